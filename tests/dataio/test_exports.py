"""Exports: scoped to what the user may see, filtered like their page, streamed, CSV and Excel, and an
export imports back to the same data (round trip)."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse

from accounts.models import Account, Order, Visit
from profiles.models import BuyingInfluencer
from tests.factories import AccountFactory, InfluencerFactory, OrderFactory, VisitFactory
from tests.fixtures.imports import run

pytestmark = pytest.mark.django_db


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def xlsx_rows(response) -> list[list]:
    from openpyxl import load_workbook

    assert response.status_code == 200
    assert isinstance(response, FileResponse)
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]


@pytest.fixture
def records(world):
    for account, ref in (
        (world.rep_account, "R-1"),
        (world.team_account, "T-1"),
        (world.other_account, "O-1"),
    ):
        Account.objects.filter(pk=account.pk).update(reference=ref)
        OrderFactory(account=account, reference=f"SO-{ref}", date=datetime.date(2025, 1, 2))
        VisitFactory(
            account=account,
            date=datetime.date(2025, 1, 3),
            summary=f"Met {ref}",
            cost=None if ref == "T-1" else Decimal("1234.50"),
        )
        InfluencerFactory(account=account, name=f"Person {ref}", reference=f"P-{ref}")
    return world


@pytest.mark.parametrize("kind", ["accounts", "orders", "influencers", "visits"])
def test_reps_export_only_what_they_may_see(records, client, kind):
    client.force_login(records.rep)
    rows = csv_rows(client.get(reverse("exports:export", args=[kind, "csv"])))
    assert sorted(row[0] for row in rows[1:]) == ["R-1", "T-1"]
    # asking for another rep's account by id is a 404, not an empty file
    response = client.get(
        reverse("exports:export", args=[kind, "csv"]), {"account": records.other_account.pk}
    )
    assert response.status_code == 404


def test_manager_exports_everything_and_filters_like_the_list(records, client):
    client.force_login(records.manager)
    rows = csv_rows(client.get(reverse("exports:export", args=["orders", "csv"])))
    assert sorted(row[0] for row in rows[1:]) == ["O-1", "R-1", "T-1"]
    rows = csv_rows(client.get(reverse("exports:export", args=["orders", "csv"]), {"owner": records.rep.pk}))
    assert [row[0] for row in rows[1:]] == ["R-1"]
    rows = csv_rows(
        client.get(reverse("exports:export", args=["visits", "csv"]), {"account": records.team_account.pk})
    )
    assert rows[1][:4] == ["T-1", "2025-01-03", "on_site", "Met T-1"]


def test_excel_exports_are_files_with_the_same_rows(records, client):
    client.force_login(records.manager)
    rows = xlsx_rows(client.get(reverse("exports:export", args=["orders", "xlsx"])))
    assert rows[0] == ["account_reference", "date", "revenue", "variable_cost", "reference", "account_name"]
    assert sorted(r[0] for r in rows[1:]) == ["O-1", "R-1", "T-1"]
    listed = xlsx_rows(client.get(reverse("accounts:export"), {"format": "xlsx"}))
    assert listed[0][:2] == ["reference", "name"]


def test_formulas_are_defused_in_csv_and_kept_as_text_in_excel(world, client):
    AccountFactory(reference="F-1", name='=HYPERLINK("http://evil")', owner=world.rep)
    client.force_login(world.manager)
    rows = csv_rows(client.get(reverse("exports:export", args=["accounts", "csv"])))
    assert next(r for r in rows if r[0] == "F-1")[1] == '\'=HYPERLINK("http://evil")'
    cells = xlsx_rows(client.get(reverse("exports:export", args=["accounts", "xlsx"])))
    assert next(r for r in cells if r[0] == "F-1")[1] == '=HYPERLINK("http://evil")'


def test_portfolio_export_is_for_managers(records, client):
    client.force_login(records.rep)
    assert client.get(reverse("exports:portfolio", args=["csv"])).status_code == 403
    client.force_login(records.manager)
    rows = csv_rows(client.get(reverse("exports:portfolio", args=["csv"])))
    assert rows[0][:6] == ["rank", "tier", "account_reference", "account_name", "owner", "score"]
    assert "cm_points" in rows[0]
    assert rows[0][-1] == "missing"


def test_portfolio_export_carries_the_breakdown_of_the_current_run(world, client, postgres):
    from scoring.services import portfolio_recompute

    for i, account in enumerate((world.rep_account, world.team_account, world.other_account)):
        for month in range(1, 7):
            OrderFactory(account=account, date=datetime.date(2026, month, 1), revenue=Decimal(1000 * (i + 1)))
    portfolio_recompute(as_of=datetime.date(2026, 6, 30), trigger="test")
    client.force_login(world.manager)
    rows = csv_rows(client.get(reverse("exports:portfolio", args=["csv"])))
    header = rows[0]
    assert len(rows) == 4
    for row in rows[1:]:
        points = sum(float(row[i]) for i, name in enumerate(header) if name.endswith("_points") and row[i])
        assert points == pytest.approx(float(row[header.index("score")]), abs=0.02)
    filtered = csv_rows(client.get(reverse("exports:portfolio", args=["csv"]), {"owner": world.rep.pk}))
    assert [row[3] for row in filtered[1:]] == ["Rep's Own Account"]


def test_export_then_import_gives_the_same_data(records, client):
    boss = BuyingInfluencer.objects.get(name="Person R-1")
    InfluencerFactory(account=records.rep_account, name="Report", reports_to=boss, stance=1, influence=2)
    Account.objects.filter(pk=records.team_account.pk).update(parent=records.rep_account, image_rating=4)
    client.force_login(records.manager)

    def snapshot():
        return (
            sorted(
                Account.objects.values_list(
                    "reference", "name", "parent__reference", "owner_id", "image_rating"
                )
            ),
            sorted(
                Order.objects.values_list(
                    "account__reference", "reference", "date", "revenue", "variable_cost"
                )
            ),
            sorted(
                Visit.objects.values_list(
                    "account__reference", "date", "kind", "summary", "logged_by_id", "cost"
                )
            ),
            sorted(
                BuyingInfluencer.objects.values_list(
                    "account__reference", "reference", "name", "reports_to__name", "stance", "influence"
                )
            ),
        )

    files = {
        kind: b"".join(client.get(reverse("exports:export", args=[kind, "csv"])).streaming_content)
        for kind in ("accounts", "orders", "visits", "influencers")
    }
    before = snapshot()
    # into the same database: nothing changes
    for kind, content in files.items():
        record, result = run(kind, content, user=records.manager)
        assert result.ok, result.problems
        assert (record.rows_created, record.rows_updated) == (0, 0), kind
    assert snapshot() == before
    # into an empty one: the same data comes back
    Order.objects.all().delete()
    Visit.objects.all().delete()
    BuyingInfluencer.objects.all().delete()
    Account.objects.all().delete()
    for kind in ("accounts", "orders", "visits", "influencers"):
        _, result = run(kind, files[kind], user=records.manager)
        assert result.ok, result.problems
    assert snapshot() == before


EXPORT_QUERIES = 2  # user (the session comes from the cache), then one query streamed in chunks


@pytest.mark.parametrize("n", [2, 30])
def test_export_query_count_does_not_grow(world, client, django_assert_num_queries, n):
    for i in range(n):
        OrderFactory(account=world.rep_account, reference=f"Q-{i}")
    client.force_login(world.rep)
    with django_assert_num_queries(EXPORT_QUERIES):
        rows = csv_rows(client.get(reverse("exports:export", args=["orders", "csv"])))
    assert len(rows) == 1 + n


def test_export_links_sit_on_the_pages(records, client):
    client.force_login(records.manager)
    listing = client.get(reverse("accounts:list"), {"owner": records.rep.pk}).content.decode()
    assert f'href="/exports/orders.csv?owner={records.rep.pk}"' in listing
    page = client.get(reverse("accounts:detail", args=[records.rep_account.pk])).content.decode()
    assert f'href="/exports/visits.xlsx?account={records.rep_account.pk}"' in page
    dashboard = client.get(reverse("scoring:dashboard"), {"region": "Benelux"}).content.decode()
    assert 'href="/exports/portfolio.csv?region=Benelux"' in dashboard
