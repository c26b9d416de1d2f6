"""Synthetic portfolios for the page benchmark (`manage.py bench_pages`), written in bulk.

Unlike the scoring benchmark's data, these accounts have what the manager pages read: owners (one KAM per
~250 accounts, with a monthly visit capacity), regions and industries, key designations (about 2 %) with a
visit cadence, last contacts, and manager ratings. Orders follow the same shapes (Pareto-sized accounts,
account-specific CM %, irregular purchases over two years). Everything is vectorised numpy; rows go to the
database with COPY on PostgreSQL and executemany on SQLite. Meant for an empty scratch database only.
"""

import datetime
import io

import numpy as np
import pandas as pd
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.utils import timezone

from accounts.models import Account, Order, Role, User

REGIONS = ("North", "South", "East", "West", "Central")
INDUSTRIES = ("Food", "Chemicals", "Retail", "Automotive", "Pharma", "Logistics", "Energy")
HISTORY_DAYS = 2 * 365
ACCOUNTS_PER_KAM = 250
KEY_SHARE = 0.02
BENCH_PASSWORD = "bench-only-password"  # noqa: S105 - a throwaway login in a scratch database


def _write(table: str, frame: pd.DataFrame) -> None:
    columns = list(frame.columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False, header=False, na_rep="\\N")
            buffer.seek(0)
            cursor.copy_expert(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer
            )
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
            # Table and column names come from our own models, never from input.
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
            cursor.executemany(sql, list(rows))


def _users(n_kams: int, rng: np.random.Generator) -> tuple[User, list[int]]:
    password = make_password(BENCH_PASSWORD)
    manager = User.objects.create(
        username="bench_manager",
        first_name="Bench",
        last_name="Manager",
        role=Role.MANAGER,
        password=password,
    )
    kams = User.objects.bulk_create(
        User(
            username=f"bench_kam_{i:04d}",
            first_name="KAM",
            last_name=f"{i:04d}",
            role=Role.REP,
            manager=manager,
            monthly_visit_capacity=int(capacity),
            password=password,
        )
        for i, capacity in enumerate(rng.integers(4, 13, size=n_kams))
    )
    return manager, [u.pk for u in kams]


def generate(*, accounts: int, orders_per_account: int, as_of: datetime.date, seed: int = 1) -> dict:
    """Insert the users, `accounts` accounts and about accounts x orders_per_account orders.

    Returns {"manager": the manager user, "kams": how many, "accounts": N, "orders": how many}.
    """
    rng = np.random.default_rng(seed)
    now = timezone.now().isoformat()
    manager, kam_ids = _users(max(2, min(400, accounts // ACCOUNTS_PER_KAM)), rng)

    start = (Account.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    ids = np.arange(start, start + accounts)
    is_key = rng.random(accounts) < KEY_SHARE
    ratings = rng.integers(1, 6, size=(accounts, 2)).astype(float)
    ratings[rng.random((accounts, 2)) < 0.2] = np.nan  # some accounts not rated yet
    last_contact = pd.to_datetime(as_of) - pd.to_timedelta(rng.integers(0, 200, size=accounts), unit="D")
    last_contact = pd.Series(last_contact.strftime("%Y-%m-%d")).where(rng.random(accounts) < 0.6)
    cadence = pd.array(np.where(is_key, 30, np.where(rng.random(accounts) < 0.05, 90, 0)), dtype="Int64")
    cadence[cadence == 0] = pd.NA
    frame = pd.DataFrame(
        {
            "id": ids,
            "name": [f"Bench account {i:07d}" for i in ids],
            "reference": "",
            "industry": rng.choice(INDUSTRIES, size=accounts),
            "country": "NL",
            "region": rng.choice(REGIONS, size=accounts),
            "owner_id": rng.choice(kam_ids, size=accounts),
            "status": "active",
            "is_key": is_key,
            "key_since": np.where(is_key, (as_of - datetime.timedelta(days=90)).isoformat(), None),
            "key_reason": np.where(is_key, "Benchmark key account", ""),
            "tier": "",
            "image_rating": pd.array(ratings[:, 0], dtype="Int64"),
            "partnership_rating": pd.array(ratings[:, 1], dtype="Int64"),
            "cadence_days": cadence,
            "last_contact_date": last_contact,
            "created_at": now,
            "updated_at": now,
        }
    )
    table = Account._meta.db_table
    for chunk in range(0, accounts, 100_000):
        _write(table, frame.iloc[chunk : chunk + 100_000])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [int(ids[-1])])

    rate = rng.gamma(2.0, orders_per_account / 2.0, size=accounts)
    size = (rng.pareto(1.2, size=accounts) + 1) * 400
    cm_pct = np.clip(rng.beta(4, 8, size=accounts), 0.02, 0.7)
    written = 0
    as_of_day = np.datetime64(as_of, "D")
    for chunk in range(0, accounts, 50_000):
        stop = min(chunk + 50_000, accounts)
        counts = rng.poisson(rate[chunk:stop])
        local = np.repeat(np.arange(chunk, stop), counts)
        n = len(local)
        if n == 0:
            continue
        days = as_of_day - rng.integers(0, HISTORY_DAYS, size=n).astype("timedelta64[D]")
        revenue = np.round(size[local] * rng.lognormal(0, 0.5, size=n), 2)
        cost = np.round(revenue * (1 - cm_pct[local] + rng.normal(0, 0.03, size=n)).clip(0, 1.2), 2)
        orders = pd.DataFrame(
            {
                "account_id": ids[local],
                "reference": "",
                "date": np.datetime_as_string(days, unit="D"),
                "revenue": revenue,
                "variable_cost": cost,
                "created_at": now,
                "updated_at": now,
            }
        )
        _write(Order._meta.db_table, orders)
        written += n
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
            cursor.execute(f"ANALYZE {Order._meta.db_table}")
    return {"manager": manager, "kams": len(kam_ids), "accounts": accounts, "orders": written}
