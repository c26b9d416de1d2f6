"""The visit-cadence rule, in one place: how often an account must be met, when it is due, and its status.

DOMAIN.md section 3: every account in a tier with a target cadence is met at least that often; every key
account is met at least quarterly (KAM_KEY_ACCOUNT_MAX_CADENCE_DAYS), whatever its score tier; a manager's
explicit override on the account always wins; an account we have lost has no cadence (nobody is asked to
visit it, and it is never "lapsed", on a list, in an alert or in the dashboard's compliance).

The rule has four forms, kept side by side here so they cannot drift (tests/accounts/test_cadence_rule.py
runs the same table of cases through each):
- Python, for one account at a time (Account.refresh_cadence / cadence_status call `target_days`, `next_due`,
  `status`), and the cadence pill on the pages (accounts/templatetags/cadence.py);
- SQL, for the publication of a scoring run, which rewrites every account in two UPDATE statements
  (`target_sql`, `due_sql`);
- ORM conditions, for the lists, the nightly check and the dashboard's portfolio frame (`lapsed_q`);
- pandas, for the capacity plan (`target_days_series`).

Storage: the account row keeps the result (`target_cadence_days`, `next_contact_due`) so that lists, My day
and the nightly check read an indexed date instead of re-deriving it; whatever changes an input (a visit,
an edit, a publication) refreshes them through this module.

A tier's default cadence is a setting of the active scoring model (managed on the scoring model page). This
app sits below `scoring`, so it does not import it: settings.KAM_TIER_CADENCE_DEFAULTS names the function
that reads them (scoring.selectors.tier_cadence_defaults), and DEFAULT_TIER_CADENCE applies until a manager
saves a model.
"""

import datetime
from collections.abc import Mapping

import pandas as pd
from django.conf import settings
from django.db.models import Q
from django.utils.module_loading import import_string

# Used until a manager saves a scoring model: monthly for key (A) accounts, quarterly and half-yearly below,
# and no cadence for D (DOMAIN.md section 3).
DEFAULT_TIER_CADENCE: dict[str, int | None] = {"A": 30, "B": 90, "C": 180, "D": None}

# An override longer than ten years is a typing error, not a cadence.
MAX_CADENCE_DAYS = 3650
CADENCE_DAYS_MESSAGE = f"Visit every 1 to {MAX_CADENCE_DAYS:,} days (ten years at most)."

# "Due soon": the next contact falls within the coming week (My day's "due this week", the amber pill).
DUE_SOON_DAYS = 7

# The statuses, as the pages name them (CSS classes pill--none, pill--lapsed, ...).
NONE, LAPSED, DUE, OK = "none", "lapsed", "due", "ok"

LOST = "lost"  # AccountStatus.LOST; this module sits below the models, so the value is spelled here.


def key_account_cap() -> int:
    """The longest cadence a key account may have when no override is set (quarterly by default)."""
    return int(settings.KAM_KEY_ACCOUNT_MAX_CADENCE_DAYS)


def tier_defaults() -> dict[str, int | None]:
    """Each tier's default cadence in days (None = no cadence), from the active scoring model."""
    return dict(import_string(settings.KAM_TIER_CADENCE_DEFAULTS)())


def due_soon_until(today: datetime.date) -> datetime.date:
    return today + datetime.timedelta(days=DUE_SOON_DAYS)


# --- Python -----------------------------------------------------------------------------------------------


def target_days(
    *, override: int | None, is_key: bool, status: str, tier_default: int | None, cap: int | None = None
) -> int | None:
    """The account's cadence in days: none when lost; its override; else its tier's default, which for a key
    account is capped at `cap` (and is `cap` in a tier without a default)."""
    if status == LOST:
        return None
    if override:
        return override
    if is_key:
        cap = key_account_cap() if cap is None else cap
        return min(tier_default, cap) if tier_default else cap
    return tier_default or None


def next_due(
    *, target: int | None, last_contact: datetime.date | None, created: datetime.date
) -> datetime.date | None:
    """When the next working contact is due: never without a target; at once (the day the account was
    created) if it has never been met; else `target` days after the last working contact."""
    if target is None:
        return None
    if last_contact is None:
        return created
    return last_contact + datetime.timedelta(days=target)


def status(due: datetime.date | None, today: datetime.date, *, soon: datetime.date | None = None) -> str:
    """NONE without a due date, LAPSED when it has passed, DUE up to `soon` (a week ahead), else OK."""
    if due is None:
        return NONE
    if due < today:
        return LAPSED
    if due <= (soon or due_soon_until(today)):
        return DUE
    return OK


def days_overdue(due: datetime.date | None, today: datetime.date) -> int:
    return (today - due).days if due is not None and due < today else 0


# --- ORM --------------------------------------------------------------------------------------------------


def lapsed_q(today: datetime.date) -> Q:
    """Accounts whose next contact was due before `today` (lost accounts have no due date)."""
    return Q(next_contact_due__lt=today)


def has_cadence_q() -> Q:
    return Q(next_contact_due__isnull=False)


# --- SQL (the publication's UPDATE statements) ------------------------------------------------------------


def tier_sql(tier_column: str, defaults: Mapping[str, int | None]) -> str:
    """A CASE giving each tier's default days (NULL for none); the values are integers we cast ourselves."""
    whens = " ".join(f"WHEN '{tier}' THEN {int(days)}" for tier, days in defaults.items() if days)
    return f"CASE {tier_column} {whens} ELSE NULL END" if whens else "NULL"


def target_sql(table: str, tier_default: str, *, postgres: bool, cap: int | None = None) -> str:
    """`target_days` for the row of `table`, with `tier_default` an SQL expression for its tier's default."""
    cap = key_account_cap() if cap is None else int(cap)
    least = "LEAST" if postgres else "MIN"  # SQLite's scalar MIN(a, b)
    return (
        f"CASE WHEN {table}.status = '{LOST}' THEN NULL "
        f"ELSE COALESCE({table}.cadence_days, CASE WHEN {table}.is_key THEN {least}(COALESCE({tier_default}, "
        f"{cap}), {cap}) ELSE {tier_default} END) END"
    )


def due_sql(table: str, days: str, *, postgres: bool) -> str:
    """`next_due` for the row of `table`, with `days` the SQL expression of its target."""
    plus = (
        f"{table}.last_contact_date + {days}"
        if postgres
        else f"date({table}.last_contact_date, '+' || {days} || ' days')"
    )
    created = f"CAST({table}.created_at AS DATE)" if postgres else f"date({table}.created_at)"
    return (
        f"CASE WHEN {days} IS NULL THEN NULL WHEN {table}.last_contact_date IS NULL THEN {created} "
        f"ELSE {plus} END"
    )


# --- pandas (the capacity plan) ---------------------------------------------------------------------------


def target_days_series(
    *,
    override: pd.Series,
    is_key: pd.Series,
    lost: pd.Series,
    tier: pd.Series,
    defaults: Mapping[str, int | None],
    cap: float | None = None,
) -> pd.Series:
    """`target_days` for every row at once (float days, NaN = no cadence)."""
    cap = float(key_account_cap() if cap is None else cap)
    tier_default = pd.to_numeric(tier.map(dict(defaults)), errors="coerce").astype(float)
    tier_default = tier_default.where(tier_default > 0)
    key_default = tier_default.clip(upper=cap).fillna(cap)
    by_tier = key_default.where(is_key.astype(bool), tier_default)
    override = pd.to_numeric(override, errors="coerce").astype(float)
    target = override.where(override > 0, by_tier)
    return target.where(~lost.astype(bool))
