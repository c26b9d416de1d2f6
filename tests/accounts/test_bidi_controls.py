"""Names and references refuse Unicode bidirectional controls (display spoofing), in forms and the API."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import Account, Order
from accounts.validators import no_bidi_controls
from kam.api.scopes import ApiScope
from tests.fixtures.api import assert_problem, key_for  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

CONTROLS = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
CONTROLS += ["\u200e", "\u200f", "\u061c"]


@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_every_bidirectional_control_is_refused(control):
    with pytest.raises(ValidationError) as refused:
        no_bidi_controls(f"Acme{control}gnp.exe")
    assert "text-direction characters" in refused.value.messages[0]


def test_right_to_left_names_without_controls_are_fine():
    for name in ("\u05e9\u05dc\u05d5\u05dd בע״מ", "شركة الأمل", "Acme GmbH"):
        no_bidi_controls(name)


def test_the_account_form_refuses_a_spoofing_name_and_saves_nothing(client, world):
    client.force_login(world.manager)
    response = client.post(reverse("accounts:create"), {"name": "Acme\u202egnp.exe", "status": "active"})
    assert response.status_code == 200
    assert "text-direction characters" in response.content.decode()
    assert not Account.objects.filter(name__startswith="Acme").exists()


def test_the_account_form_refuses_a_spoofing_reference(client, world):
    client.force_login(world.manager)
    response = client.post(
        reverse("accounts:edit", args=[world.rep_account.pk]),
        {"name": "Renamed", "reference": "C-\u20661\u2069", "status": "active"},
    )
    assert "text-direction characters" in response.content.decode()
    world.rep_account.refresh_from_db()
    assert world.rep_account.name != "Renamed"


def test_the_api_refuses_a_spoofing_name_or_reference(world, key_for):  # noqa: F811
    api = key_for(world.manager)
    body = assert_problem(
        api.post("/api/v1/accounts/", {"name": "Acme\u202e", "reference": "R\u200f1"}, format="json"),
        400,
        field="name",
    )
    assert "reference" in body["errors"]
    assert not Account.objects.filter(name__startswith="Acme").exists()
    patch = api.patch(f"/api/v1/accounts/{world.rep_account.pk}/", {"region": "\u202bNorth"}, format="json")
    assert_problem(patch, 400, field="region")


def test_the_orders_api_refuses_a_spoofing_order_reference(world, key_for):  # noqa: F811
    erp = key_for(world.integration, [ApiScope.WRITE_ORDERS])
    row = {"account": world.rep_account.pk, "reference": "SO-\u202e1", "date": "2026-10-01", "revenue": "10"}
    assert_problem(erp.post("/api/v1/orders/bulk/", {"orders": [row]}, format="json"), 400)
    assert not Order.objects.exists()
