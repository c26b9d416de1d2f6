"""Cost to serve on visits and the return on customer investment (ROCI, DOMAIN.md section 2)."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts import selectors
from accounts.models import Account, Visit
from dataio.exports import VISIT_COLUMNS, visit_rows
from tests.factories import OrderFactory, VisitFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def _orders(account):
    # 12-month CM = 30,000 - 18,000 = 12,000; an older order outside the window does not count.
    OrderFactory(
        account=account, date=TODAY() - datetime.timedelta(days=40), revenue=30_000, variable_cost=18_000
    )
    OrderFactory(
        account=account, date=TODAY() - datetime.timedelta(days=500), revenue=99_000, variable_cost=0
    )


def test_roci_is_the_margin_per_unit_of_cost_logged_in_the_same_12_months(world):
    account = world.rep_account
    _orders(account)
    VisitFactory(account=account, date=TODAY() - datetime.timedelta(days=10), cost=Decimal("500.00"))
    VisitFactory(account=account, date=TODAY() - datetime.timedelta(days=100), cost=Decimal("1000.00"))
    VisitFactory(account=account, date=TODAY() - datetime.timedelta(days=100), cost=None)  # not known
    VisitFactory(account=account, date=TODAY() - datetime.timedelta(days=400), cost=Decimal("9999"))  # older
    summary = selectors.order_summary(account, today=TODAY())
    assert summary["cost_to_serve_12m"] == Decimal("1500.00")
    assert summary["costed_visits_12m"] == 2
    assert summary["roci"] == Decimal("8")  # 12,000 / 1,500


def test_without_logged_costs_there_is_no_roci_and_the_page_says_how_to_get_one(world, client):
    account = world.rep_account
    _orders(account)
    VisitFactory(account=account, date=TODAY() - datetime.timedelta(days=10), cost=None)
    assert selectors.order_summary(account, today=TODAY())["roci"] is None
    client.force_login(world.rep)
    html = client.get(account.get_absolute_url()).content.decode()
    assert "Log what visits cost to see the return on customer investment" in html

    VisitFactory(account=account, date=TODAY() - datetime.timedelta(days=5), cost=Decimal("1200"))
    html = client.get(account.get_absolute_url()).content.decode()
    assert "10.0&times;" in html  # 12,000 / 1,200
    assert "logged on 1 visit." in html


def test_a_visit_logged_in_the_browser_keeps_its_cost(world, client):
    client.force_login(world.rep)
    response = client.post(
        reverse("accounts:visit_create", args=[world.rep_account.pk]),
        {"date": TODAY().isoformat(), "kind": "meeting", "summary": "Review", "cost": "245.50"},
    )
    assert response.status_code == 302
    assert Visit.objects.get().cost == Decimal("245.50")


def test_a_negative_cost_is_refused_and_nothing_saved(world, client):
    client.force_login(world.rep)
    response = client.post(
        reverse("accounts:visit_create", args=[world.rep_account.pk]),
        {"date": TODAY().isoformat(), "kind": "meeting", "summary": "Review", "cost": "-5"},
    )
    assert response.status_code == 200
    assert "greater than or equal to 0" in response.content.decode()
    assert not Visit.objects.exists()
    assert Account.objects.get(pk=world.rep_account.pk).last_contact_date is None


def test_the_database_refuses_a_negative_cost(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        VisitFactory(account=world.rep_account, cost=Decimal("-1"))


def test_the_visits_export_carries_the_cost(world):
    VisitFactory(account=world.rep_account, cost=Decimal("12.30"))
    VisitFactory(account=world.rep_account, cost=None)
    rows = list(visit_rows(Account.objects.filter(pk=world.rep_account.pk)))
    position = VISIT_COLUMNS.index("cost")
    assert sorted(row[position] for row in rows) == ["", "12.30"]


def test_visits_logged_at_no_cost_say_so_instead_of_asking_for_costs(world, client):
    account = world.rep_account
    _orders(account)
    VisitFactory(account=account, date=TODAY() - datetime.timedelta(days=10), cost=Decimal("0"))
    assert selectors.order_summary(account, today=TODAY())["roci"] is None
    client.force_login(world.rep)
    html = client.get(account.get_absolute_url()).content.decode()
    assert "were logged at no cost" in html
    assert "Cost to serve: EUR&nbsp;0.00" in html
