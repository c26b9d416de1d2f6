"""The visit-cadence rule has one home (accounts/cadence.py) and four forms: Python, SQL, ORM and pandas, plus
the pill the pages draw. One table of cases goes through every form, and each must agree with the table.

Columns: status, is_key, tier, override (cadence_days), days since the last working contact (None = never
met), days since the account was created -> the expected target (days), due date (days from today) and the
status a page shows today.
"""

import datetime

import pandas as pd
import pytest
from django.db import IntegrityError, connection, transaction
from django.template import Context, Template

from accounts import cadence
from accounts.alerts import lapsed_accounts
from accounts.models import Account, AccountStatus
from accounts.selectors import AccountFilters, account_list
from scoring.analytics import dashboard, loading, metrics
from tests.factories import AccountFactory, UserFactory

TODAY = datetime.date(2026, 6, 15)
CAP = 90
# B's default is longer than the key-account cap, so a key account in B is capped; D has no cadence.
DEFAULTS = {"A": 30, "B": 120, "C": 180, "D": None}

ACTIVE, LOST, PROSPECT = AccountStatus.ACTIVE, AccountStatus.LOST, AccountStatus.PROSPECT
# fmt: off
CASES = {
    #                      status    key    tier override last  created   target  due    status today
    "A on track":          (ACTIVE,  False, "A", None,    10,   400,      30,     20,    cadence.OK),
    "A due in 5 days":     (ACTIVE,  False, "A", None,    25,   400,      30,     5,     cadence.DUE),
    "A due in 7 days":     (ACTIVE,  False, "A", None,    23,   400,      30,     7,     cadence.DUE),
    "A due in 8 days":     (ACTIVE,  False, "A", None,    22,   400,      30,     8,     cadence.OK),
    "A due today":         (ACTIVE,  False, "A", None,    30,   400,      30,     0,     cadence.DUE),
    "A a day late":        (ACTIVE,  False, "A", None,    31,   400,      30,     -1,    cadence.LAPSED),
    "B not key":           (ACTIVE,  False, "B", None,    100,  400,      120,    20,    cadence.OK),
    "D has none":          (ACTIVE,  False, "D", None,    10,   400,      None,   None,  cadence.NONE),
    "unscored has none":   (ACTIVE,  False, "",  None,    10,   400,      None,   None,  cadence.NONE),
    "key in A":            (ACTIVE,  True,  "A", None,    40,   400,      30,     -10,   cadence.LAPSED),
    "key in B is capped":  (ACTIVE,  True,  "B", None,    60,   400,      CAP,    30,    cadence.OK),
    "key in D gets cap":   (ACTIVE,  True,  "D", None,    100,  400,      CAP,    -10,   cadence.LAPSED),
    "key unscored":        (ACTIVE,  True,  "",  None,    10,   400,      CAP,    80,    cadence.OK),
    "override wins":       (ACTIVE,  False, "D", 14,      20,   400,      14,     -6,    cadence.LAPSED),
    "override over cap":   (ACTIVE,  True,  "A", 400,     20,   400,      400,    380,   cadence.OK),
    "never met, old":      (ACTIVE,  False, "A", None,    None, 3,        30,     -3,    cadence.LAPSED),
    "never met, new":      (ACTIVE,  False, "A", None,    None, 0,        30,     0,     cadence.DUE),
    "prospect counts":     (PROSPECT, False, "C", None,   179,  400,      180,    1,     cadence.DUE),
    "lost: no cadence":    (LOST,    False, "A", None,    100,  400,      None,   None,  cadence.NONE),
    "lost key, override":  (LOST,    True,  "A", 14,      100,  400,      None,   None,  cadence.NONE),
}
# fmt: on


def _day(offset):
    return None if offset is None else TODAY + datetime.timedelta(days=offset)


def _expected(name):
    *_, target, due, state = CASES[name]
    return target, _day(due), state


@pytest.fixture
def rule(settings):
    settings.KAM_KEY_ACCOUNT_MAX_CADENCE_DAYS = CAP
    settings.KAM_TIER_CADENCE_DEFAULTS = "tests.accounts.test_cadence_rule.tier_defaults"


def tier_defaults():
    return dict(DEFAULTS)


def test_the_rule_reads_its_settings(rule):
    assert cadence.tier_defaults() == DEFAULTS
    assert cadence.key_account_cap() == CAP


@pytest.mark.parametrize("name", CASES)
def test_python_form(rule, name):
    status, is_key, tier, override, last, created, *_ = CASES[name]
    account = Account(
        status=status,
        is_key=is_key,
        tier=tier,
        cadence_days=override,
        last_contact_date=_day(-last) if last is not None else None,
    )
    account.created_at = datetime.datetime.combine(_day(-created), datetime.time(9))
    account.refresh_cadence(cadence.tier_defaults().get(tier))
    target, due, state = _expected(name)
    assert (account.target_cadence_days, account.next_contact_due) == (target, due)
    assert account.cadence_status(TODAY) == state
    assert account.days_overdue(TODAY) == (max((TODAY - due).days, 0) if due else 0)


@pytest.fixture
def rows(rule):
    """One account per case, written with no cadence, then given one by the rule's SQL form, as a publication
    does (the tier default taken from the account's own tier column here)."""
    owner = UserFactory()
    accounts = {}
    for name, (status, is_key, tier, override, last, created, *_) in CASES.items():
        account = AccountFactory(
            name=name,
            owner=owner,
            status=status,
            is_key=is_key,
            key_since=TODAY if is_key else None,
            key_reason="Strategic" if is_key else "",
            tier=tier,
            cadence_days=override,
            last_contact_date=_day(-last) if last is not None else None,
        )
        Account.objects.filter(pk=account.pk).update(
            created_at=datetime.datetime.combine(_day(-created), datetime.time(9), tzinfo=datetime.UTC)
        )
        accounts[name] = account.pk
    table = Account._meta.db_table
    postgres = connection.vendor == "postgresql"
    target = cadence.target_sql(table, cadence.tier_sql(f"{table}.tier", DEFAULTS), postgres=postgres)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET target_cadence_days = {target}, "  # our own SQL, no input
            f"next_contact_due = {cadence.due_sql(table, target, postgres=postgres)}"
        )
    return accounts


@pytest.mark.django_db
def test_sql_form(rows):
    stored = {
        a.name: (a.target_cadence_days, a.next_contact_due)
        for a in Account.objects.filter(pk__in=rows.values())
    }
    assert stored == {name: _expected(name)[:2] for name in CASES}


@pytest.mark.django_db
def test_orm_form(rows):
    """The ORM conditions (lists, the nightly check, the dashboard's frame) agree with the page status."""
    visible = Account.objects.filter(pk__in=rows.values())
    with_cadence = set(visible.filter(cadence.has_cadence_q()).values_list("name", flat=True))
    lapsed = set(visible.filter(cadence.lapsed_q(TODAY)).values_list("name", flat=True))
    assert with_cadence == {name for name in CASES if _expected(name)[2] != cadence.NONE}
    assert lapsed == {name for name in CASES if _expected(name)[2] == cadence.LAPSED}


@pytest.mark.django_db
def test_dashboard_frame_and_capacity_use_the_rule(rows):
    """The dashboard's portfolio frame encodes the same status; capacity's targets are the rule's targets."""
    frame = loading.portfolio_frame(run=None, today=TODAY).set_index("account_id")
    names = dict(Account.objects.filter(pk__in=rows.values()).values_list("pk", "name"))
    encoding = {cadence.NONE: metrics.NO_CADENCE, cadence.LAPSED: metrics.LAPSED}
    states = {names[pk]: state for pk, state in frame["cadence_state"].items() if pk in names}
    assert states == {name: encoding.get(_expected(name)[2], metrics.ON_TRACK) for name in CASES}
    # The frame carries no tier without a run; give each row its case's tier, as a published run would.
    frame["tier"] = [CASES[names[pk]][2] if pk in names else "" for pk in frame.index]
    targets = dashboard.cadence_targets(frame)
    got = {names[pk]: None if pd.isna(days) else int(days) for pk, days in targets.items() if pk in names}
    assert got == {name: _expected(name)[0] for name in CASES}


@pytest.mark.django_db
def test_every_lapsed_list_agrees(rows, rule):
    """The list's "lapsed" filter, the nightly check and the rule name the same accounts: one meaning."""
    lapsed = {name for name in CASES if _expected(name)[2] == cadence.LAPSED}
    assert lapsed == {"A a day late", "key in A", "key in D gets cap", "override wins", "never met, old"}
    manager = UserFactory(role="manager")
    listed = account_list(user=manager, filters=AccountFilters(lapsed=True), today=TODAY)
    assert set(listed.values_list("name", flat=True)) == lapsed
    assert set(lapsed_accounts(TODAY).values_list("name", flat=True)) == lapsed
    assert set(Account.objects.cadence_lapsed(TODAY).values_list("name", flat=True)) == lapsed


@pytest.mark.django_db
def test_template_pill(rows):
    template = Template("{% load cadence %}{% cadence_pill due=account.next_contact_due today=today %}")
    for account in Account.objects.filter(pk__in=rows.values()):
        html = template.render(Context({"account": account, "today": TODAY}))
        assert f"pill--{_expected(account.name)[2]}" in html, account.name


def test_pandas_form(rule):
    frame = pd.DataFrame(
        [{"status": s, "is_key": int(k), "tier": t, "cadence_days": o} for s, k, t, o, *_ in CASES.values()],
        index=list(CASES),
    )
    frame["cadence_days"] = pd.to_numeric(frame["cadence_days"], errors="coerce")
    target = cadence.target_days_series(
        override=frame["cadence_days"],
        is_key=frame["is_key"],
        lost=frame["status"] == LOST,
        tier=frame["tier"],
        defaults=DEFAULTS,
        cap=CAP,
    )
    got = {name: None if pd.isna(days) else int(days) for name, days in target.items()}
    assert got == {name: _expected(name)[0] for name in CASES}


@pytest.mark.django_db
def test_a_lost_account_cannot_keep_a_due_date():
    """The database refuses a write that skips the rule (the constraint account_lost_has_no_cadence)."""
    account = AccountFactory(status=LOST)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(next_contact_due=TODAY, target_cadence_days=30)
