"""The account list and its CSV export: exactly what the list shows, every page, scoped, streamed."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from tests.factories import AccountFactory, TeamMemberFactory

pytestmark = pytest.mark.django_db

HEADER = [
    "reference",
    "name",
    "owner",
    "tier",
    "score",
    "rank",
    "key",
    "region",
    "industry",
    "last contact",
    "next due",
]


def export(client, query: str = "") -> list[list[str]]:
    response = client.get(reverse("accounts:export") + query)
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith('attachment; filename="accounts-')
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def names(rows) -> list[str]:
    return [row[1] for row in rows[1:]]


def test_export_has_the_columns_and_values_of_the_list(world, client):
    today = timezone.localdate()
    Account.objects.filter(pk=world.rep_account.pk).update(
        reference="C-1",
        tier="A",
        score=Decimal("81.25"),
        rank=4,
        is_key=True,
        key_since=today,
        key_reason="Strategic",
        region="Benelux",
        industry="Food",
        last_contact_date=datetime.date(2026, 3, 2),
        next_contact_due=datetime.date(2026, 4, 1),
    )
    world.rep.first_name, world.rep.last_name = "Rita", "Rep"
    world.rep.save()
    client.force_login(world.rep)
    rows = export(client, "?q=Own")
    assert rows == [
        HEADER,
        [
            "C-1",
            "Rep's Own Account",
            "Rita Rep",
            "A",
            "81.25",
            "4",
            "yes",
            "Benelux",
            "Food",
            "2026-03-02",
            "2026-04-01",
        ],
    ]


def test_reps_export_never_contains_another_reps_account(world, client):
    client.force_login(world.rep)
    assert sorted(names(export(client))) == ["Rep's Own Account", "Team Account"]
    # not even when asking for them by owner or reference
    assert names(export(client, f"?owner={world.other_rep.pk}")) == ["Team Account"]
    assert names(export(client, f"?q={world.other_account.reference}")) == []


def test_manager_exports_everything(world, client):
    client.force_login(world.manager)
    assert len(export(client)) == 1 + 3


def test_export_applies_the_filters_and_sort_of_the_list_and_every_page(world, client):
    for i in range(60):
        AccountFactory(owner=world.rep, name=f"Bulk {i:02d}", tier="B" if i % 2 else "C", score=Decimal(i))
    client.force_login(world.rep)
    rows = export(client, "?tier=B&sort=-score&page=2")
    assert len(rows) == 1 + 30  # both list pages, not only page 2
    assert names(rows)[:3] == ["Bulk 59", "Bulk 57", "Bulk 55"]
    assert {row[3] for row in rows[1:]} == {"B"}
    assert names(export(client, "?q=Bulk 1&sort=name")) == [f"Bulk {i}" for i in range(10, 20)]


def test_export_link_carries_the_current_filters(world, client):
    client.force_login(world.rep)
    body = client.get(reverse("accounts:list") + "?key=no&sort=-score&page=1&mine=1").content.decode()
    assert 'href="/accounts/export.csv?key=no&amp;sort=-score&amp;mine=1"' in body
    fragment = client.get(reverse("accounts:list") + "?q=Team", HTTP_HX_REQUEST="true").content.decode()
    assert 'href="/accounts/export.csv?q=Team"' in fragment


def test_export_defuses_spreadsheet_formulas(world, client):
    AccountFactory(owner=world.rep, name='=HYPERLINK("http://evil")', reference="+SUM(A1)", region="@x")
    client.force_login(world.rep)
    row = next(r for r in export(client) if "HYPERLINK" in r[1])
    assert row[0] == "'+SUM(A1)"
    assert row[1].startswith("'=HYPERLINK")
    assert row[7] == "'@x"


@pytest.mark.parametrize(("role", "expected"), [("anonymous", 302), ("integration", 403), ("rep", 200)])
def test_export_for_every_role(world, client, role, expected):
    if role != "anonymous":
        client.force_login(getattr(world, role))
    response = client.get(reverse("accounts:export"))
    assert response.status_code == expected
    if expected == 302:
        assert response["Location"].startswith(reverse("login"))


# --- Pinned query counts ------------------------------------------------------------------------------------


def _portfolio(rep, n):
    for i in range(n):
        account = AccountFactory(owner=rep if i % 2 else AccountFactory().owner, name=f"P {i:03d}")
        if i % 2 == 0:
            TeamMemberFactory(account=account, user=rep)


# user (the session comes from the cache); the page: count, rows (owner joined); the accounts' fingerprint;
# the filter choices when not cached yet: regions, industries, owners.
LIST_QUERIES = 7
LIST_QUERIES_CACHED_CHOICES = 4
# user (the session comes from the cache), then one query streamed in chunks.
EXPORT_QUERIES = 2


@pytest.mark.parametrize("n", [5, 50])
def test_list_query_count_is_fixed(world, client, django_assert_num_queries, n):
    _portfolio(world.rep, n)
    client.force_login(world.rep)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(reverse("accounts:list") + "?sort=-score")
    assert response.status_code == 200
    assert response.content.decode().count('class="row-title"') == min(n + 2, 25)


def test_the_filter_choices_are_cached_until_an_account_changes(world, client, django_assert_num_queries):
    _portfolio(world.rep, 5)
    client.force_login(world.rep)
    client.get(reverse("accounts:list"))
    with django_assert_num_queries(LIST_QUERIES_CACHED_CHOICES):
        client.get(reverse("accounts:list"))
    world.rep_account.region = "Nordics-new"
    world.rep_account.save()
    response = client.get(reverse("accounts:list"))
    assert "Nordics-new" in response.content.decode()  # the change shows at once


@pytest.mark.parametrize("n", [5, 50])
def test_export_query_count_is_fixed(world, client, django_assert_num_queries, n):
    _portfolio(world.rep, n)
    client.force_login(world.rep)
    with django_assert_num_queries(EXPORT_QUERIES):
        rows = export(client)
    assert len(rows) == 1 + n + 2
