"""Webhooks: signed deliveries to a real HTTP server on 127.0.0.1, retries with backoff, visibility, the API."""

import http.server
import json
import threading
import time
from unittest import mock

import pytest
from django.db import transaction
from django.test import override_settings

from accounts.models import AlertKind, CadenceAlert
from integrations import webhooks
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from integrations.tasks import webhook_deliver_task
from kam.api.scopes import ApiScope
from scoring import webhooks as scoring_webhooks
from tests.fixtures.api import assert_problem

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("eager_tasks"),
]
LOCAL = override_settings(KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS=True, KAM_API_WEBHOOK_BACKOFF_SECONDS=0)


class Receiver:
    """A real HTTP server on 127.0.0.1 that answers with the next status in `script` and records every request."""

    def __init__(self, script=(200,)):
        self.script = list(script)
        self.requests: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": self.headers, "body": body, "path": self.path})
                status = receiver.script.pop(0) if len(receiver.script) > 1 else receiver.script[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/kam"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def endpoint(owner, url, events=("run.succeeded", "account.tier_changed", "alert.opened")):
    return WebhookEndpoint.objects.create(
        owner=owner, url=url, events=list(events), secret=WebhookEndpoint.new_secret()
    )


def test_signatures_verify_and_reject_tampering():
    body = b'{"event":"ping"}'
    header = webhooks.sign("whsec_x", body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert webhooks.verify_signature("whsec_x", body, header, now=1_700_000_100)
    assert not webhooks.verify_signature("whsec_y", body, header, now=1_700_000_100)
    assert not webhooks.verify_signature("whsec_x", body + b" ", header, now=1_700_000_100)
    assert not webhooks.verify_signature("whsec_x", body, header, now=1_700_009_999)  # a replay, too old
    assert not webhooks.verify_signature("whsec_x", body, "v1=abc")


def test_backoff_doubles():
    with override_settings(KAM_API_WEBHOOK_BACKOFF_SECONDS=30):
        assert [webhooks.backoff_seconds(n) for n in (1, 2, 3, 4, 5)] == [30, 60, 120, 240, 480]


@LOCAL
def test_a_run_is_signed_delivered_and_retried_after_a_500(
    world, make_run, django_capture_on_commit_callbacks
):
    run = make_run({world.rep_account: (80.0, "A", 1), world.other_account: (20.0, "D", 2)})
    with Receiver(script=[500, 200]) as receiver:
        hook = endpoint(world.integration, receiver.url, events=["run.succeeded"])
        with django_capture_on_commit_callbacks(execute=True):
            scoring_webhooks.webhooks_emit_run_succeeded(run_id=run.pk)
        # In-process the request makes one attempt; the retry is the sweeper's (here: sent at once).
        assert len(receiver.requests) == 1
        webhook_deliver_task.delay(WebhookDelivery.objects.get(endpoint=hook).pk)
    assert len(receiver.requests) == 2  # the first attempt got a 500, the retry went through
    delivery = WebhookDelivery.objects.get(endpoint=hook)
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.SUCCEEDED, 2, 200)
    assert [a["status_code"] for a in delivery.attempt_log] == [500, 200]
    assert delivery.attempt_log[0]["error"] == "HTTP 500 Internal Server Error"
    assert delivery.delivered_at is not None
    for request in receiver.requests:
        headers, body = request["headers"], request["body"]
        assert headers["Content-Type"] == "application/json"
        assert headers["X-KAM-Event"] == "run.succeeded"
        assert headers["X-KAM-Delivery"] == str(delivery.pk)
        assert webhooks.verify_signature(hook.secret, body, headers["X-KAM-Signature"])
        assert not webhooks.verify_signature("whsec_wrong", body, headers["X-KAM-Signature"])
    event = json.loads(receiver.requests[-1]["body"])
    assert event["event"] == "run.succeeded"
    assert event["id"].startswith("evt_")
    assert event["data"]["run"] == {
        "id": run.pk,
        "status": "succeeded",
        "as_of": run.as_of.isoformat(),
        "model_version": run.model.version,
        "accounts_scored": 2,
        "finished_at": run.finished_at.isoformat(),
        "url": f"/api/v1/scoring/runs/{run.pk}/",
    }


@LOCAL
@override_settings(KAM_API_WEBHOOK_MAX_ATTEMPTS=3)
def test_a_delivery_gives_up_after_the_last_attempt(world, make_run, django_capture_on_commit_callbacks):
    run = make_run({world.rep_account: (80.0, "A", 1)})
    with Receiver(script=[503]) as receiver:
        hook = endpoint(world.integration, receiver.url, events=["run.succeeded"])
        with django_capture_on_commit_callbacks(execute=True):
            scoring_webhooks.webhooks_emit_run_succeeded(run_id=run.pk)
        for _ in range(5):  # the sweeper's re-enqueues; nothing is attempted after the last attempt
            webhook_deliver_task.delay(WebhookDelivery.objects.get(endpoint=hook).pk)
    delivery = WebhookDelivery.objects.get(endpoint=hook)
    assert len(receiver.requests) == 3
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.FAILED, 3, 503)
    assert delivery.next_attempt_at is None


def test_the_task_schedules_retries_with_exponential_backoff(world):
    hook = endpoint(world.integration, "http://127.0.0.1:9/nothing-listens-here")
    delivery = WebhookDelivery.objects.create(endpoint=hook, event="run.succeeded", payload={"id": "evt_1"})
    with (
        override_settings(KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS=True, KAM_API_WEBHOOK_BACKOFF_SECONDS=30),
        mock.patch.object(webhook_deliver_task, "retry", side_effect=RuntimeError("retry")) as retry,
    ):
        for attempt in (1, 2):
            with pytest.raises(RuntimeError):
                webhook_deliver_task.run(delivery.pk)
            assert retry.call_args.kwargs == {"countdown": 30 * 2 ** (attempt - 1)}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.RETRYING, 2, None)
    assert "ConnectionRefusedError" in delivery.error
    assert delivery.next_attempt_at > delivery.last_attempt_at


def test_a_delivery_is_attempted_once_per_claim(world):
    hook = endpoint(world.integration, "http://127.0.0.1:9/")
    delivery = WebhookDelivery.objects.create(
        endpoint=hook, event="run.succeeded", payload={}, status=DeliveryStatus.SUCCEEDED
    )
    assert webhooks.webhook_attempt(delivery_id=delivery.pk).status == "skipped"
    assert webhooks.webhook_attempt(delivery_id=987654).status == "skipped"


def test_private_addresses_are_refused_unless_allowed(world):
    with Receiver() as receiver:
        hook = endpoint(world.integration, receiver.url)
        delivery = WebhookDelivery.objects.create(endpoint=hook, event="run.succeeded", payload={})
        outcome = webhooks.webhook_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert outcome.status == DeliveryStatus.FAILED
    # The reason, not the resolver's answer: delivery logs are readable with a read-scope key.
    assert delivery.error == "refused: the address is not public"
    assert "127.0.0.1" not in json.dumps(delivery.attempt_log)
    assert receiver.requests == []


@LOCAL
def test_nothing_is_sent_when_the_transaction_rolls_back(world, make_run, django_capture_on_commit_callbacks):
    run = make_run({world.rep_account: (80.0, "A", 1)})
    with Receiver() as receiver:
        endpoint(world.integration, receiver.url)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            try:
                with transaction.atomic():
                    scoring_webhooks.webhooks_emit_run_succeeded(run_id=run.pk)
                    raise RuntimeError("the run's transaction failed")
            except RuntimeError:
                pass
    assert callbacks == []
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


@LOCAL
def test_tier_changes_carry_only_accounts_the_owner_can_see(
    world, make_run, django_capture_on_commit_callbacks
):
    make_run({world.rep_account: (40.0, "B", 2), world.other_account: (80.0, "A", 1)})
    run = make_run(
        {
            world.rep_account: (85.0, "A", 1),
            world.other_account: (50.0, "C", 2),
            world.team_account: (10.0, "D", 3),
        }
    )
    with Receiver() as receiver:
        for_rep = endpoint(world.rep, receiver.url + "/rep", events=["account.tier_changed"])
        endpoint(world.manager, receiver.url + "/manager", events=["account.tier_changed"])
        with django_capture_on_commit_callbacks(execute=True):
            scoring_webhooks.webhooks_emit_run_succeeded(run_id=run.pk)
    by_path = {r["path"].rsplit("/", 1)[1]: json.loads(r["body"]) for r in receiver.requests}
    assert set(by_path) == {"rep", "manager"}
    rep_items = by_path["rep"]["data"]["items"]
    assert [(i["account_name"], i["previous_tier"], i["tier"]) for i in rep_items] == [
        ("Rep's Own Account", "B", "A"),
        ("Team Account", None, "D"),
    ]
    manager_items = {i["account_name"] for i in by_path["manager"]["data"]["items"]}
    assert manager_items == {"Rep's Own Account", "Other Rep's Account", "Team Account"}
    assert by_path["rep"]["data"]["run_id"] == run.pk
    assert WebhookDelivery.objects.get(endpoint=for_rep).status == DeliveryStatus.SUCCEEDED


@LOCAL
@override_settings(KAM_API_WEBHOOK_BATCH_SIZE=2)
def test_many_tier_changes_are_sent_in_parts(world, make_run, django_capture_on_commit_callbacks):
    from tests.factories import AccountFactory

    accounts = AccountFactory.create_batch(5)
    run = make_run({account: (float(n), "C", n + 1) for n, account in enumerate(accounts)})
    with Receiver() as receiver:
        endpoint(world.integration, receiver.url, events=["account.tier_changed"])
        with django_capture_on_commit_callbacks(execute=True):
            scoring_webhooks.webhooks_emit_run_succeeded(run_id=run.pk)
    parts = [json.loads(r["body"])["data"] for r in receiver.requests]
    assert sorted((p["part"], p["parts"], len(p["items"])) for p in parts) == [
        (1, 3, 2),
        (2, 3, 2),
        (3, 3, 1),
    ]


@LOCAL
def test_opened_alerts_are_sent(world, django_capture_on_commit_callbacks):
    import datetime

    opened = CadenceAlert.objects.create(
        account=world.other_account, kind=AlertKind.LAPSED_CADENCE, opened_on=datetime.date(2026, 11, 23)
    )
    with Receiver() as receiver:
        endpoint(world.rep, receiver.url, events=["alert.opened"])  # cannot see the other rep's account
        endpoint(world.other_rep, receiver.url, events=["alert.opened"])
        with django_capture_on_commit_callbacks(execute=True):
            assert webhooks.webhooks_emit_alerts_opened(alert_ids=[opened.pk]) == 1
    (request,) = receiver.requests
    item = json.loads(request["body"])["data"]["items"][0]
    assert (item["id"], item["kind"], item["account_id"]) == (
        opened.pk,
        "lapsed_cadence",
        world.other_account.pk,
    )


def test_unknown_events_are_a_programming_error():
    with pytest.raises(ValueError, match="Unknown webhook event"):
        webhooks.webhooks_emit("run.exploded", {})


def test_lost_deliveries_are_requeued(world):
    hook = endpoint(world.integration, "http://127.0.0.1:9/")
    stale = WebhookDelivery.objects.create(endpoint=hook, event="run.succeeded", payload={})
    WebhookDelivery.objects.filter(pk=stale.pk).update(created_at=stale.created_at.replace(year=2020))
    WebhookDelivery.objects.create(endpoint=hook, event="run.succeeded", payload={})  # fresh: left alone
    with mock.patch.object(webhook_deliver_task, "delay") as delay:
        assert webhooks.webhooks_requeue_stale() == 1
    delay.assert_called_once_with(stale.pk)


# --- The webhooks API -------------------------------------------------------------------------------------------


HOOKS = "/api/v1/webhooks/"


def test_registering_an_endpoint_shows_the_secret_once(world, key_for, match_schema):
    client = key_for(world.integration, [ApiScope.READ])
    payload = {"url": "https://erp.example.com/kam", "events": ["run.succeeded", "account.tier_changed"]}
    response = client.post(HOOKS, payload, format="json")
    assert response.status_code == 201, response.content
    match_schema(response, HOOKS, "post")
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["account.tier_changed", "run.succeeded"]
    assert WebhookEndpoint.objects.get(pk=created["id"]).owner == world.integration
    listed = client.get(HOOKS)
    assert "secret" not in listed.json()["results"][0]
    match_schema(listed, HOOKS)
    detail = client.get(f"{HOOKS}{created['id']}/")
    assert "secret" not in detail.json()
    rotated = client.post(f"{HOOKS}{created['id']}/rotate-secret/")
    assert rotated.json()["secret"] not in {created["secret"], ""}
    match_schema(rotated, "/api/v1/webhooks/{id}/rotate-secret/", "post")


def test_endpoints_belong_to_their_owner(world, key_for):
    theirs = endpoint(world.other_rep, "https://example.com/theirs")
    client = key_for(world.rep, [ApiScope.READ])
    assert client.get(HOOKS).json()["count"] == 0
    assert_problem(client.get(f"{HOOKS}{theirs.pk}/"), 404)
    assert_problem(client.delete(f"{HOOKS}{theirs.pk}/"), 404)
    assert WebhookEndpoint.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"url": "ftp://example.com/x", "events": ["run.succeeded"]},
        {"url": "not a url", "events": ["run.succeeded"]},
        {"url": "https://example.com/x", "events": []},
        {"url": "https://example.com/x", "events": ["run.exploded"]},
        {"url": "https://example.com/x"},
    ],
)
def test_invalid_endpoints_are_400_problems(world, key_for, payload):
    assert_problem(key_for(world.integration, ["read"]).post(HOOKS, payload, format="json"), 400)


def test_update_and_delete(world, key_for, match_schema):
    client = key_for(world.integration, ["read"])
    hook = endpoint(world.integration, "https://example.com/x")
    response = client.patch(f"{HOOKS}{hook.pk}/", {"active": False}, format="json")
    assert response.json()["active"] is False
    match_schema(response, "/api/v1/webhooks/{id}/", "patch")
    assert client.delete(f"{HOOKS}{hook.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


@LOCAL
def test_ping_and_the_delivery_log(world, key_for, match_schema, django_capture_on_commit_callbacks):
    client = key_for(world.integration, ["read"])
    with Receiver() as receiver:
        hook = endpoint(world.integration, receiver.url, events=["run.succeeded"])
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"{HOOKS}{hook.pk}/ping/")
    assert response.status_code == 202
    match_schema(response, "/api/v1/webhooks/{id}/ping/", "post")
    (request,) = receiver.requests
    assert request["headers"]["X-KAM-Event"] == "ping"
    assert webhooks.verify_signature(hook.secret, request["body"], request["headers"]["X-KAM-Signature"])
    log = client.get(f"{HOOKS}{hook.pk}/deliveries/")
    assert [(d["event"], d["status"], d["attempts"]) for d in log.json()["results"]] == [
        ("ping", "succeeded", 1)
    ]
    match_schema(log, "/api/v1/webhooks/{id}/deliveries/")


def test_a_slow_receiver_times_out_as_a_failed_attempt(world):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        hook = endpoint(world.integration, f"http://127.0.0.1:{listener.getsockname()[1]}/")
        delivery = WebhookDelivery.objects.create(endpoint=hook, event="run.succeeded", payload={})
        with override_settings(KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS=True, KAM_API_WEBHOOK_TIMEOUT_SECONDS=1):
            started = time.monotonic()
            outcome = webhooks.webhook_attempt(delivery_id=delivery.pk)
        assert time.monotonic() - started < 5
    finally:
        listener.close()
    delivery.refresh_from_db()
    assert outcome.status == DeliveryStatus.RETRYING
    assert "timed out" in delivery.error


@LOCAL
def test_a_real_recompute_sends_run_succeeded_and_tier_changes(world, django_capture_on_commit_callbacks):
    """The wiring, not just the emitter: finishing a run through the scoring service delivers the events."""
    import datetime

    from scoring.services import portfolio_recompute
    from tests.factories import OrderFactory

    OrderFactory(account=world.rep_account, date=datetime.date(2026, 10, 1), revenue=1000, variable_cost=600)
    with Receiver() as receiver:
        hook = endpoint(world.integration, receiver.url, events=["run.succeeded", "account.tier_changed"])
        with django_capture_on_commit_callbacks(execute=True):
            run = portfolio_recompute(as_of=datetime.date(2026, 11, 23))
    events = sorted(json.loads(r["body"])["event"] for r in receiver.requests)
    assert events == ["account.tier_changed", "run.succeeded"]  # first run: every account is new to a tier
    succeeded = next(json.loads(r["body"]) for r in receiver.requests if b"run.succeeded" in r["body"])
    assert succeeded["data"]["run"]["id"] == run.pk
    assert WebhookDelivery.objects.filter(endpoint=hook, status=DeliveryStatus.SUCCEEDED).count() == 2


@LOCAL
def test_the_cadence_check_sends_the_alerts_it_opens(world, django_capture_on_commit_callbacks):
    import datetime

    from accounts.models import Account
    from workspace.cadence_check import cadence_check

    today = datetime.date(2026, 11, 23)
    Account.objects.filter(pk=world.other_account.pk).update(
        next_contact_due=today - datetime.timedelta(days=3)
    )
    with Receiver() as receiver:
        endpoint(world.other_rep, receiver.url, events=["alert.opened"])
        with django_capture_on_commit_callbacks(execute=True):
            first = cadence_check(today=today)
        with django_capture_on_commit_callbacks(execute=True):
            again = cadence_check(today=today)  # nothing new opened: nothing sent again
    assert first.lapsed_opened >= 1
    assert again.lapsed_opened == 0
    (request,) = receiver.requests
    ids = {item["account_id"] for item in json.loads(request["body"])["data"]["items"]}
    assert world.other_account.pk in ids
    assert world.rep_account.pk not in ids  # the other rep's endpoint never sees this rep's accounts
