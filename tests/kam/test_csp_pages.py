"""Pages Django and its admin draw for us still hold the Content-Security-Policy (no inline style or script)."""

import base64
import hashlib
import re

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _inline_styles(html: str) -> list[str]:
    return re.findall(r'\sstyle="([^"]*)"', html)


def _allowed_attribute_hashes(policy: str) -> set[str]:
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if " " in part.strip())
    return set(directives.get("style-src-attr", "").split())


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_csrf_failure_page_is_ours_and_has_no_inline_style_or_script(world):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "rep", "password": "wrong"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "That form could not be checked" in page
    assert "Nothing was saved" in page
    assert "<style" not in page
    assert not _inline_styles(page)
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_the_admin_history_page_allows_exactly_its_one_inline_style(client, world):
    world.manager.is_staff = world.manager.is_superuser = True
    world.manager.save()
    client.force_login(world.manager)
    response = client.get(f"/admin/accounts/account/{world.rep_account.pk}/history/")
    assert response.status_code == 200
    styles = _inline_styles(response.content.decode())
    assert styles  # django-simple-history's paginator
    allowed = _allowed_attribute_hashes(response["Content-Security-Policy"])
    assert {_hash(style) for style in styles} <= allowed
    # The exception is scoped to the history pages.
    elsewhere = client.get(f"/admin/accounts/account/{world.rep_account.pk}/change/")
    assert not {_hash(style) for style in styles} & _allowed_attribute_hashes(
        elsewhere["Content-Security-Policy"]
    )
