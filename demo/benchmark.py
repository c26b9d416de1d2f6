"""Synthetic portfolios for the scoring benchmark, written with COPY (PostgreSQL) or executemany (SQLite).

Shapes follow the demo company: Pareto-shaped account sizes, account-specific CM %, irregular repeat
purchasing over three years. Generated vectorised in chunks so 20 million orders never sit in memory at once.
"""

import datetime

import numpy as np
import pandas as pd
from django.db import connection
from django.utils import timezone

from accounts.models import Account, Order
from kam.staging import load_frame
from scoring.clv import simulate_orders

HISTORY_DAYS = 3 * 365


def generate(*, accounts: int, orders_per_account: int, as_of: datetime.date, seed: int = 1) -> int:
    """Insert `accounts` accounts and about accounts x orders_per_account orders; return the order count."""
    rng = np.random.default_rng(seed)
    now = timezone.now().isoformat()
    ids = np.arange(1, accounts + 1)
    ratings = rng.integers(1, 6, size=(accounts, 2)).astype(float)
    ratings[rng.random((accounts, 2)) < 0.2] = np.nan  # some accounts not rated yet
    account_frame = pd.DataFrame(
        {
            "id": ids,
            "name": [f"Bench account {i:07d}" for i in ids],
            "reference": "",
            "industry": rng.choice(["Food", "Chemicals", "Retail", "Automotive", "Pharma"], size=accounts),
            "country": "NL",
            "region": rng.choice(["North", "South", "East", "West"], size=accounts),
            "status": "active",
            "is_key": False,
            "key_reason": "",
            "tier": "",
            "image_rating": pd.array(ratings[:, 0], dtype="Int64"),
            "partnership_rating": pd.array(ratings[:, 1], dtype="Int64"),
            "created_at": now,
            "updated_at": now,
        }
    )
    table = Account._meta.db_table
    chunk = 200_000
    for start in range(0, accounts, chunk):
        part = account_frame.iloc[start : start + chunk]
        load_frame(table, part)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [accounts])

    # Purchase timing from the BG/NBD generative process (so the benchmark exercises a real fit, not the
    # fallback), margins from Gamma-Gamma, and an account-specific CM % turning margin into revenue and cost.
    weeks = HISTORY_DAYS / 7
    r = 1.5
    alpha = r * weeks * 0.33 / max(orders_per_account, 1)
    cm_pct = np.clip(rng.beta(4, 8, size=accounts), 0.03, 0.7)
    written = 0
    order_table = Order._meta.db_table
    for start in range(0, accounts, 50_000):
        stop = min(start + 50_000, accounts)
        sim = simulate_orders(
            stop - start,
            as_of=as_of,
            r=r,
            alpha=alpha,
            a=0.8,
            b=12.0,
            p=6.0,
            q=4.0,
            gamma=300.0,
            max_weeks=weeks,
            min_weeks=4,
            rng=rng,
        )
        local = sim["account_id"].to_numpy() + start
        margin = sim["margin"].to_numpy()
        revenue = np.round(margin / cm_pct[local], 2)
        cost = np.round(revenue - margin, 2)
        frame = pd.DataFrame(
            {
                "account_id": ids[local],
                "reference": "",
                "date": sim["date"].dt.strftime("%Y-%m-%d"),
                "revenue": revenue,
                "variable_cost": cost,
                "created_at": now,
                "updated_at": now,
            }
        )
        load_frame(order_table, frame)
        written += len(frame)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {table}")
            cursor.execute(f"ANALYZE {order_table}")
    return written
