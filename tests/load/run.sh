#!/usr/bin/env bash
# `make loadtest`: gunicorn + PostgreSQL + Redis on 127.0.0.1 with 10,000 demo accounts, then locust, headless.
#
# 1. (Re)creates the scratch database $LOAD_DB (default kam_load) on $LOAD_PG_URL, migrates it, seeds the demo
#    company scaled to $LOAD_ACCOUNTS accounts and recomputes the portfolio (skipped with LOAD_REUSE_DB=1 when
#    the database is already seeded).
# 2. Serves the app with production settings through gunicorn on 127.0.0.1:$LOAD_PORT (gthread workers),
#    as if behind a TLS proxy (the load test sends X-Forwarded-Proto: https).
# 3. Runs tests/load/locustfile.py headless with $LOAD_USERS users for $LOAD_TIME (after the ramp-up, whose
#    requests are not counted), prints requests/s, p50/p95/p99 and failures, and writes
#    $LOAD_OUT/summary.json (with the load average before and after, since the machine may be shared).
# Exits non-zero when a target is missed: < 150 requests/s, p95 >= 500 ms, or any failed request.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PY=$ROOT/.venv/bin/python
BIN=$ROOT/.venv/bin

LOAD_PG_URL=${LOAD_PG_URL:-postgres://postgres@127.0.0.1:5432}
LOAD_DB=${LOAD_DB:-kam_load}
LOAD_REDIS_URL=${LOAD_REDIS_URL:-redis://127.0.0.1:6379/0}
LOAD_ACCOUNTS=${LOAD_ACCOUNTS:-10000}
LOAD_USERS=${LOAD_USERS:-250}
LOAD_SPAWN_RATE=${LOAD_SPAWN_RATE:-25}
LOAD_TIME=${LOAD_TIME:-2m}
LOAD_WORKERS=${LOAD_WORKERS:-3}
LOAD_THREADS=${LOAD_THREADS:-4}
LOAD_API_KEYS=${LOAD_API_KEYS:-20}
LOAD_OUT=${LOAD_OUT:-${TMPDIR:-/tmp}/kam-loadtest}
mkdir -p "$LOAD_OUT"
# A free port, never one another server on this machine already answers on.
LOAD_PORT=${LOAD_PORT:-$("$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")}

export DJANGO_ENV=production
export DATABASE_URL=$LOAD_PG_URL/$LOAD_DB
export REDIS_URL=$LOAD_REDIS_URL
export SECRET_KEY=${SECRET_KEY:-load-test-only-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 60)}
export ALLOWED_HOSTS=127.0.0.1,localhost
export LOG_LEVEL=WARNING

psql_admin() { psql "$LOAD_PG_URL/postgres" -v ON_ERROR_STOP=1 -qAt "$@"; }

seeded=""
if [[ "${LOAD_REUSE_DB:-0}" == "1" ]]; then
    seeded=$(psql "$DATABASE_URL" -qAt -c "SELECT count(*) FROM accounts_account" 2>/dev/null || true)
fi
if [[ -z "$seeded" || "$seeded" == "0" ]]; then
    echo "== Scratch database $LOAD_DB: migrate, seed $LOAD_ACCOUNTS accounts, recompute"
    psql_admin -c "DROP DATABASE IF EXISTS $LOAD_DB WITH (FORCE)" -c "CREATE DATABASE $LOAD_DB"
    "$PY" manage.py migrate --no-input -v 0
    "$PY" manage.py seed_demo --accounts "$LOAD_ACCOUNTS" --no-score | sed -n '1,14p'
    "$PY" manage.py recompute_portfolio
    # What autovacuum would have done by morning: the recompute rewrote every account row.
    psql "$DATABASE_URL" -qc "VACUUM ANALYZE"
else
    echo "== Reusing $LOAD_DB ($seeded accounts)"
    "$PY" manage.py migrate --no-input -v 0
fi
# Compressing every asset takes minutes on a busy machine: only when the sources changed since the last time.
if [[ ! -f staticfiles/staticfiles.json ]] || [[ -n $(find static templates requirements.txt -newer staticfiles/staticfiles.json -print -quit) ]]; then
    echo "== collectstatic"
    "$PY" manage.py collectstatic --no-input -v 0
fi

# One key per simulated integration (throttling counts per key), made the way a manager's click makes them.
API_KEYS=$("$PY" manage.py shell --no-imports -c "
from accounts.models import ApiKey, User
integration, manager = User.objects.get(username='integration'), User.objects.get(username='manager')
ApiKey.objects.filter(name__startswith='load test').delete()
keys = [ApiKey.issue(name=f'load test {i}', user=integration, scopes=['read', 'write_orders'],
                     created_by=manager)[1] for i in range($LOAD_API_KEYS)]
print('KEYS=' + ','.join(keys))
" | sed -n 's/^KEYS=//p')
export KAM_LOAD_API_KEYS=$API_KEYS

echo "== gunicorn: $LOAD_WORKERS workers x $LOAD_THREADS threads on 127.0.0.1:$LOAD_PORT"
"$BIN/gunicorn" kam.wsgi:application --bind "127.0.0.1:$LOAD_PORT" --workers "$LOAD_WORKERS" \
    --worker-class gthread --threads "$LOAD_THREADS" --timeout 30 \
    --access-logfile /dev/null --error-logfile "$LOAD_OUT/gunicorn.log" &
GUNICORN=$!
trap 'kill $GUNICORN 2>/dev/null || true; wait $GUNICORN 2>/dev/null || true' EXIT
up=""
for _ in $(seq 1 60); do
    kill -0 $GUNICORN 2>/dev/null || break
    if curl -fsS -o /dev/null "http://127.0.0.1:$LOAD_PORT/healthz" -H "X-Forwarded-Proto: https"; then
        up=1
        break
    fi
    sleep 0.5
done
if [[ -z "$up" ]]; then
    echo "gunicorn did not come up on 127.0.0.1:$LOAD_PORT:" >&2
    tail -20 "$LOAD_OUT/gunicorn.log" >&2
    exit 1
fi

# CPU time the app has used so far (clock ticks of user + system time): gunicorn's master and its workers.
app_cpu_ticks() {
    local total=0 pid stat
    for pid in $GUNICORN $(pgrep -P $GUNICORN); do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        set -- ${stat##*) }  # the fields after "pid (name) ": utime and stime are the 12th and 13th
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== locust: $LOAD_USERS users for $LOAD_TIME (load average before: $LOAD_BEFORE)"
# --reset-stats: count from the moment every user is running, i.e. the steady state, for $LOAD_TIME.
RAMP=$(( (LOAD_USERS + LOAD_SPAWN_RATE - 1) / LOAD_SPAWN_RATE + 5 ))
# The app's CPU over the measured period (from the end of the ramp-up), for the CPU cost of a request.
(sleep "$RAMP"; app_cpu_ticks > "$LOAD_OUT/cpu_start") &
SAMPLER=$!
"$BIN/locust" -f tests/load/locustfile.py --headless --host "http://127.0.0.1:$LOAD_PORT" \
    -u "$LOAD_USERS" -r "$LOAD_SPAWN_RATE" --run-time "$(( $("$PY" -c "
import re, sys
m = re.fullmatch(r'(\d+)([smh]?)', '$LOAD_TIME')
print(int(m[1]) * {'': 1, 's': 1, 'm': 60, 'h': 3600}[m[2]])") + RAMP ))s" \
    --reset-stats --only-summary --csv "$LOAD_OUT/locust" --json-file "$LOAD_OUT/locust" \
    --loglevel WARNING || true
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
CPU_END=$(app_cpu_ticks)
wait $SAMPLER || true
CPU_TICKS=$((CPU_END - $(cat "$LOAD_OUT/cpu_start" 2>/dev/null || echo "$CPU_END")))
CPU_WINDOW=$("$PY" -c "
import re
m = re.fullmatch(r'(\d+)([smh]?)', '$LOAD_TIME')
print(int(m[1]) * {'': 1, 's': 1, 'm': 60, 'h': 3600}[m[2]])")

"$PY" tests/load/summary.py "$LOAD_OUT" --users "$LOAD_USERS" --workers "$LOAD_WORKERS" \
    --threads "$LOAD_THREADS" --accounts "$LOAD_ACCOUNTS" --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" \
    --cpu-seconds "$("$PY" -c "print($CPU_TICKS / $(getconf CLK_TCK))")" --cpu-window "$CPU_WINDOW"
