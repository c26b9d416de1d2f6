"""Scoring writes: model versions and the portfolio recompute (read in bulk, compute in pandas, write in bulk).

A run moves queued -> running -> succeeded | failed. Only one run holds the lock at a time (a partial unique
constraint), results are written and the accounts' denormalised score/tier/rank updated in ONE transaction
that also marks the run succeeded, so a run that fails part-way leaves the previous portfolio fully current.
"""

import datetime
import logging
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from accounts import cadence
from accounts.models import Account, User
from kam import pgcopy
from scoring import clv as clv_model
from scoring import engine, selectors
from scoring.criteria import criteria_from_totals
from scoring.models import CRITERIA, RunStatus, ScoreResult, ScoringModel, ScoringRun
from scoring.webhooks import webhooks_emit_run_succeeded

log = logging.getLogger(__name__)


class RunInProgress(Exception):
    """Another recompute is queued or running; its id says which."""

    def __init__(self, run: ScoringRun):
        super().__init__(f"Scoring run {run.pk} is already {run.get_status_display().lower()}.")
        self.run = run


class NoActiveModel(Exception):
    pass


MODEL_FIELDS = [
    *(f"weight_{c}" for c in CRITERIA),
    "tier_method",
    "tier_a",
    "tier_b",
    "tier_c",
    "cadence_a_days",
    "cadence_b_days",
    "cadence_c_days",
    "cadence_d_days",
    "clv_horizon_months",
    "discount_rate",
    "name",
    "note",
]


@transaction.atomic
def scoring_model_create_version(
    *, data: dict, created_by: User | None, activate: bool = True
) -> ScoringModel:
    """Save edited weights and rules as a new version (versions are immutable once used); make it active."""
    base = selectors.active_model()
    values = {f: getattr(base, f) for f in MODEL_FIELDS} if base else {}
    values.update({k: v for k, v in data.items() if k in MODEL_FIELDS})
    last = ScoringModel.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0
    model = ScoringModel(version=last + 1, created_by=created_by, **values)
    model.full_clean()
    engine.TierRule(method=model.tier_method, **_tier_kwargs(model)).validate()
    if activate:
        # Saved one by one (there is at most one), not .update(): the history records the switch too.
        for previous in ScoringModel.objects.filter(is_active=True):
            previous.is_active = False
            previous._history_user = created_by
            previous.save(update_fields=["is_active", "updated_at"])
        model.is_active = True
    model._history_user = created_by
    model.save()
    return model


def _tier_kwargs(model: ScoringModel) -> dict:
    key = "shares" if model.tier_method == "share" else "cutoffs"
    return {key: model.tier_values}


def tier_rule_for(model: ScoringModel) -> engine.TierRule:
    return engine.TierRule(method=model.tier_method, **_tier_kwargs(model))


def scoring_run_request(
    *, as_of: datetime.date, triggered_by: User | None = None, trigger: str = "manual"
) -> ScoringRun:
    """Queue a recompute with the active model, or raise RunInProgress if one already holds the lock."""
    model = selectors.active_model()
    if model is None:
        raise NoActiveModel("No scoring model is active; save one first.")
    try:
        with transaction.atomic():
            return ScoringRun.objects.create(
                model=model, as_of=as_of, triggered_by=triggered_by, trigger=trigger
            )
    except IntegrityError:
        running = ScoringRun.objects.in_progress().first()
        if running is None:  # the other run finished between our insert and this read
            return scoring_run_request(as_of=as_of, triggered_by=triggered_by, trigger=trigger)
        raise RunInProgress(running) from None


def portfolio_recompute(
    *, as_of: datetime.date, triggered_by: User | None = None, trigger="manual"
) -> ScoringRun:
    """Request and execute a run in this process (the management command and the embedded default)."""
    run = scoring_run_request(as_of=as_of, triggered_by=triggered_by, trigger=trigger)
    return scoring_run_execute(run_id=run.pk)


def _claim(run_id: int) -> bool:
    """queued -> running with a conditional UPDATE: a second delivery of the same task finds nothing to claim."""
    return bool(
        ScoringRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING, started_at=timezone.now(), phase="starting"
        )
    )


class _Phases:
    def __init__(self, run_id: int):
        self.run_id = run_id
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        ScoringRun.objects.filter(pk=self.run_id).update(phase=name, phase_seconds=self.seconds)
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)


def scoring_run_execute(*, run_id: int) -> ScoringRun:
    """Compute and publish a queued run. Safe to call twice: the second call returns the run untouched."""
    if not _claim(run_id):
        return ScoringRun.objects.get(pk=run_id)
    run = ScoringRun.objects.select_related("model").get(pk=run_id)
    phases = _Phases(run_id)
    try:
        with phases("load"):
            totals = selectors.order_totals(run.as_of)
            accounts = selectors.scored_accounts()
        with phases("clv"):
            # Fitted over every account with orders, lost ones included: leaving out the customers who
            # stopped buying would bias the dropout rate down (DOMAIN.md section 8).
            summary = selectors.purchase_summary(totals, run.as_of)
            clv_result = clv_model.estimate_clv_from_summary(
                summary,
                horizon_months=run.model.clv_horizon_months,
                annual_discount_rate=float(run.model.discount_rate),
            )
        with phases("score"):
            criteria = criteria_from_totals(totals, accounts, run.as_of, clv=clv_result.table[["clv"]])
            scored = engine.score_accounts(criteria, run.model.weights, tier_rule_for(run.model))
            frame = _result_frame(scored, criteria, clv_result.table)
        with phases("save"), transaction.atomic():
            _publish(run, frame)
            ScoringRun.objects.filter(pk=run_id).update(
                status=RunStatus.SUCCEEDED,
                holds_lock=False,
                phase="done",
                finished_at=timezone.now(),
                accounts_scored=len(frame),
                orders_read=int(totals["orders"].sum()) if len(totals) else 0,
                clv_method=clv_result.method,
                clv_params=clv_result.params_dict(),
            )
            # Deliveries are recorded with the success and sent by Celery after commit.
            webhooks_emit_run_succeeded(run_id=run_id)
        ScoringRun.objects.filter(pk=run_id).update(phase_seconds=phases.seconds)
    except Exception as exc:
        log.exception("Scoring run %s failed", run_id)
        scoring_run_fail(run_id=run_id, reason=f"{type(exc).__name__}: {exc}", phase_seconds=phases.seconds)
        raise
    return ScoringRun.objects.get(pk=run_id)


def scoring_run_fail(*, run_id: int, reason: str, phase_seconds: dict | None = None) -> None:
    updates = {
        "status": RunStatus.FAILED,
        "holds_lock": False,
        "finished_at": timezone.now(),
        "error": reason,
    }
    if phase_seconds is not None:
        updates["phase_seconds"] = phase_seconds
    ScoringRun.objects.filter(pk=run_id, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).update(**updates)


RESULT_COLUMNS = [
    "account_id",
    "score",
    "rank",
    "tier",
    "revenue",
    "revenue_prev",
    "cm",
    "cm_pct",
    "clv",
    "p_alive",
    "growth",
    "image",
    "partnership",
    "strategic",
    *(f"{c}_norm" for c in CRITERIA),
    *(f"{c}_points" for c in CRITERIA),
    "missing",
]


def _result_frame(scored: pd.DataFrame, criteria: pd.DataFrame, clv_table: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(index=scored.index)
    frame["score"] = scored["score"].round(4)
    frame["rank"] = scored["rank"].astype(int)
    frame["tier"] = scored["tier"]
    frame["revenue"] = criteria["revenue_12m"].round(2)
    frame["revenue_prev"] = criteria["revenue_prev_12m"].round(2)
    frame["cm"] = criteria["cm_12m"].round(2)
    frame["cm_pct"] = criteria["cm_pct"]
    frame["clv"] = criteria["clv"].round(2)
    frame["p_alive"] = clv_table["p_alive"].reindex(frame.index) if "p_alive" in clv_table else np.nan
    for c in ("growth", "image", "partnership", "strategic"):
        frame[c] = criteria[c]
    for c in CRITERIA:
        frame[f"{c}_norm"] = scored[f"{c}_norm"].round(6)
        frame[f"{c}_points"] = scored[f"{c}_points"].round(6)
    frame["missing"] = scored["missing"].map(
        lambda v: ",".join(v) if isinstance(v, list | tuple) else (v or "")
    )
    frame.index.name = "account_id"
    return frame.reset_index()[RESULT_COLUMNS]


# Advisory lock key (PostgreSQL) between publishing results and deleting accounts: "KAMRESLT" in ASCII.
RESULTS_LOCK = int.from_bytes(b"KAMRESLT", "big") & 0x7FFF_FFFF_FFFF_FFFF


def results_guard_delete(sender, instance, using="default", **kwargs) -> None:
    """pre_delete of an Account: wait for a run that is publishing, so no result outlives its account.

    Shared, so deletions do not wait for each other; held until the deleting transaction ends.
    """
    from django.db import connections

    db = connections[using]
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [RESULTS_LOCK])


def _publish(run: ScoringRun, frame: pd.DataFrame) -> None:
    """Write the results and make them the current portfolio. Caller holds the transaction."""
    ScoreResult.objects.filter(run=run).delete()
    if connection.vendor == "postgresql":
        _copy_results(run.pk, frame)
        with connection.cursor() as cursor:
            # Fresh statistics, so the planner hash-joins the new rows instead of looping over an index: of
            # the join columns only (0.1 s instead of 0.7 s at 100,000 results, most of it spent on the
            # explanation JSON); autovacuum brings the other columns' statistics up to date later.
            cursor.execute(f"ANALYZE {ScoreResult._meta.db_table} (run_id, account_id)")
    else:
        _bulk_create_results(run.pk, frame)
    r, a = ScoreResult._meta.db_table, Account._meta.db_table
    with connection.cursor() as cursor:
        # Accounts deleted while the run computed: their results would belong to nobody (no database FK).
        # The lock orders this with any account deletion (which takes it shared, see results_guard_delete):
        # a deletion that started first has committed when the DELETE below runs, and one that starts now
        # waits for this commit, and then its cascade sees these results and deletes them.
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RESULTS_LOCK])
        cursor.execute(
            f"DELETE FROM {r} WHERE {r}.run_id = %s AND NOT EXISTS "  # noqa: S608 - our table names
            f"(SELECT 1 FROM {a} WHERE {a}.id = {r}.account_id)",
            [run.pk],
        )
    # Re-running the same model and as-of date replaces the earlier result.
    ScoringRun.objects.filter(model=run.model, as_of=run.as_of, status=RunStatus.SUCCEEDED).exclude(
        pk=run.pk
    ).delete()
    # A backfill (an as-of date before the current portfolio's) is history only: the accounts keep showing
    # the newest portfolio.
    if not ScoringRun.objects.succeeded().filter(as_of__gt=run.as_of).exists():
        _update_accounts(run)


# PostgreSQL column kinds of a result row, for the binary COPY (kam.pgcopy).
RESULT_KINDS = {
    "run_id": "int8",
    "account_id": "int8",
    "score": "float8",
    "rank": "int4",
    "tier": "text",
    "revenue": "numeric:2",
    "revenue_prev": "numeric:2",
    "cm": "numeric:2",
    "cm_pct": "float8",
    "clv": "numeric:2",
    **dict.fromkeys(("p_alive", "growth", "image", "partnership", "strategic"), "float8"),
    **{f"{c}_norm": "float8" for c in CRITERIA},
    **{f"{c}_points": "float8" for c in CRITERIA},
    "missing": "text",
}


def _copy_results(run_id: int, frame: pd.DataFrame) -> None:
    out = frame.assign(run_id=run_id)
    with connection.cursor() as cursor:
        pgcopy.copy_frame(cursor, ScoreResult._meta.db_table, out, RESULT_KINDS)


def _bulk_create_results(run_id: int, frame: pd.DataFrame) -> None:
    clean = frame.astype(object).where(frame.notna(), None)
    rows = (ScoreResult(run_id=run_id, **record) for record in clean.to_dict("records"))
    batch: list[ScoreResult] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 5000:
            ScoreResult.objects.bulk_create(batch)
            batch = []
    if batch:
        ScoreResult.objects.bulk_create(batch)


def _update_accounts(run: ScoringRun) -> None:
    """Copy score, rank and tier onto every account and recompute its visit cadence.

    Each rewritten row touches every index on the account table, so every account is written once: the
    scored ones by one UPDATE joined to this run's results (an inner join: the accounts are read once, not
    joined to themselves), then the accounts without a result in this run (marked lost) leave the portfolio:
    score and tier cleared, cadence back to the account's own override. The second statement finds them
    without a join (the first stamped every scored account with this publication's time) and rewrites only
    those that still show a score or a stale cadence, so a lost account is written once, not every night.
    """
    a, r = Account._meta.db_table, ScoreResult._meta.db_table
    postgres = connection.vendor == "postgresql"
    distinct = "IS DISTINCT FROM" if postgres else "IS NOT"  # null-safe inequality
    # The cadence rule's SQL form (accounts.cadence), with the run's model's tier defaults.
    tier_default = cadence.tier_sql("r.tier", run.model.tier_cadences)

    def due(days: str) -> str:
        return cadence.due_sql(a, days, postgres=postgres)

    score = "ROUND(CAST(r.score AS NUMERIC), 2)"
    scored = cadence.target_sql(a, tier_default, postgres=postgres)
    unscored = cadence.target_sql(a, "NULL", postgres=postgres)
    # Table names and the tier CASE come from our models and the saved scoring model, never from input.
    # SET expressions read the row as it was before the statement (both databases), hence score_change.
    scored_sql = f"""
            UPDATE {a} SET
                score_change = CASE WHEN {a}.score IS NULL THEN NULL ELSE {score} - {a}.score END,
                score = {score},
                tier = COALESCE(r.tier, ''),
                rank = r.rank,
                scored_at = %(now)s,
                target_cadence_days = {scored},
                next_contact_due = {due(scored)}
            FROM {r} r
            WHERE r.account_id = {a}.id AND r.run_id = %(run)s
            """  # noqa: S608
    unscored_sql = f"""
            UPDATE {a} SET
                score_change = NULL, score = NULL, tier = '', rank = NULL, scored_at = NULL,
                target_cadence_days = {unscored},
                next_contact_due = {due(unscored)}
            WHERE ({a}.scored_at IS NULL OR {a}.scored_at <> %(now)s)
              AND ({a}.score IS NOT NULL OR {a}.score_change IS NOT NULL OR {a}.tier <> '' OR {a}.rank IS NOT NULL
                   OR {a}.scored_at IS NOT NULL OR {a}.target_cadence_days {distinct} {unscored}
                   OR {a}.next_contact_due {distinct} {due(unscored)})
            """  # noqa: S608
    params = {"now": timezone.now(), "run": run.pk}
    with connection.cursor() as cursor:
        cursor.execute(scored_sql, params)
        cursor.execute(unscored_sql, params)
