"""A visit form sent twice (a double click, a resend after a slow answer) logs one visit."""

import datetime
import threading

import pytest
from django.urls import reverse

from accounts.models import Visit

TODAY = datetime.date.today()


def _form(summary: str, **extra) -> dict:
    return {"date": TODAY.isoformat(), "kind": "meeting", "summary": summary, **extra}


def test_the_same_visit_form_sent_twice_logs_one_visit(world, client):
    client.force_login(world.rep)
    url = reverse("accounts:visit_create", args=[world.rep_account.pk])
    first = client.post(url, _form("Agreed the Q3 rebate."))
    second = client.post(url, _form("Agreed the Q3 rebate."))
    assert first.status_code == second.status_code == 302
    assert Visit.objects.filter(account=world.rep_account).count() == 1


def test_a_different_visit_or_another_persons_is_not_a_double_submission(world, client):
    url = reverse("accounts:visit_create", args=[world.team_account.pk])
    client.force_login(world.rep)
    client.post(url, _form("Plant tour."))
    client.post(url, _form("Plant tour.", kind="site_tour"))
    client.post(url, _form("Plant tour, with the buyer this time."))
    client.force_login(world.other_rep)  # the owner, who logs the same meeting from their side
    client.post(url, _form("Plant tour."))
    assert Visit.objects.filter(account=world.team_account).count() == 4


@pytest.mark.postgres
def test_two_identical_visit_forms_arriving_together_log_one_visit(stack):
    """Concurrent, through gunicorn's separate processes: the account row lock orders them."""
    rep = stack.browser("rep")
    summary = "Double-clicked Save"
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def submit() -> None:
        barrier.wait(timeout=30)
        statuses.append(rep.post(f"/accounts/{stack.account}/visits/new/", _form(summary)).status_code)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [302] * 4  # every click is answered as a success ...
    assert len(stack.visits(summary)) == 1  # ... and there is one visit
