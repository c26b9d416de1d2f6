"""Done when: a manager exports the demo company, and imports it into an empty installation through the
browser (upload, map, preview, commit), getting the same data back."""

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Account, Order, User, Visit
from dataio.models import ImportRecord, ImportStatus
from profiles.models import BuyingInfluencer

pytestmark = pytest.mark.django_db

KINDS = ("accounts", "orders", "influencers", "visits")  # accounts first: the rest refers to them


def snapshot():
    return (
        sorted(
            Account.objects.values_list(
                "reference", "name", "parent__reference", "owner__username", "industry", "region", "image_rating"
            )
        ),
        sorted(Order.objects.values_list("account__reference", "reference", "date", "revenue", "variable_cost")),
        sorted(Visit.objects.values_list("account__reference", "date", "kind", "summary", "logged_by__username")),
        sorted(
            BuyingInfluencer.objects.values_list(
                "account__reference", "reference", "name", "title", "buying_role", "influence", "stance",
                "reports_to__name",
            )
        ),
    )  # fmt: skip


def test_the_demo_company_goes_out_and_back_in_through_the_browser(
    client, eager_celery, django_capture_on_commit_callbacks
):
    call_command("seed_demo", accounts=25, no_score=True, stdout=StringIO())
    manager = User.objects.get(username="manager")
    client.force_login(manager)
    files = {}
    for kind in KINDS:
        response = client.get(reverse("exports:export", args=[kind, "xlsx" if kind == "orders" else "csv"]))
        files[kind] = b"".join(response.streaming_content)
    before = snapshot()
    assert all(before), "the demo has accounts, orders, visits and influencers"

    Order.objects.all().delete()
    Visit.objects.all().delete()
    BuyingInfluencer.objects.all().delete()
    Account.objects.all().delete()

    for kind in KINDS:
        name = f"{kind}.xlsx" if kind == "orders" else f"{kind}.csv"
        client.post(reverse("imports:index"), {"kind": kind, "file": SimpleUploadedFile(name, files[kind])})
        record = ImportRecord.objects.latest("id")
        # canonical headers: the mapping is already complete, so the manager goes straight on
        assert client.post(reverse("imports:map", args=[record.pk]), record.mapping).status_code == 302
        assert (
            "No problems found" in client.get(reverse("imports:preview", args=[record.pk])).content.decode()
        )
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("imports:commit", args=[record.pk]))
        record.refresh_from_db()
        assert record.status == ImportStatus.SUCCEEDED, record.errors
    assert snapshot() == before
