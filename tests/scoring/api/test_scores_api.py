"""Scores, score history, scoring runs and the active model over REST."""

from unittest import mock

import kombu.exceptions
import pytest

from accounts.models import Account
from kam.api.scopes import ApiScope
from scoring.models import RunStatus, ScoringModel, ScoringRun
from tests.factories import AccountFactory
from tests.fixtures.api import assert_problem

pytestmark = pytest.mark.django_db

SCORES = "/api/v1/scores/"
RUNS = "/api/v1/scoring/runs/"


@pytest.fixture
def portfolio(world, make_run):
    """Two runs: in the current one the rep's account rose to A and the other rep's fell to C."""
    world.other_account.is_key = True
    world.other_account.key_since = world.other_account.created_at.date()
    world.other_account.key_reason = "Reference customer"
    world.other_account.save()
    old = make_run(
        {
            world.rep_account: (40.0, "B", 2),
            world.team_account: (30.0, "C", 3),
            world.other_account: (80.0, "A", 1),
        }
    )
    new = make_run(
        {
            world.rep_account: (85.0, "A", 1),
            world.team_account: (30.0, "C", 3),
            world.other_account: (50.0, "C", 2),
        }
    )
    return old, new


def names(response):
    assert response.status_code == 200, response.content
    return [row["account_name"] for row in response.json()["results"]]


def test_current_scores_come_from_the_latest_successful_run(world, portfolio, key_for, match_schema):
    _old, new = portfolio
    response = key_for(world.integration, ["read"]).get(SCORES)
    body = response.json()
    assert body["run"] == {
        "id": new.pk,
        "as_of": new.as_of.isoformat(),
        "model_version": new.model.version,
        "finished_at": body["run"]["finished_at"],
    }
    assert names(response) == ["Rep's Own Account", "Other Rep's Account", "Team Account"]
    first = body["results"][0]
    assert (first["rank"], first["tier"], first["score"]) == (1, "A", 85.0)
    assert [c["key"] for c in first["criteria"]] == [
        "cm",
        "cm_pct",
        "clv",
        "growth",
        "image",
        "partnership",
        "strategic",
    ]
    strategic = first["criteria"][-1]
    assert strategic["missing"] is True
    assert sum(c["weight"] for c in first["criteria"]) == pytest.approx(1.0)
    match_schema(response, SCORES)


def test_a_rep_sees_only_the_scores_of_their_accounts(world, portfolio, key_for, session_as):
    assert names(key_for(world.rep, ["read"]).get(SCORES)) == ["Rep's Own Account", "Team Account"]
    assert names(session_as(world.other_rep).get(SCORES)) == ["Other Rep's Account", "Team Account"]


def test_score_filters(world, portfolio, key_for):
    old, _ = portfolio
    client = key_for(world.manager, ["read"])
    assert names(client.get(SCORES, {"tier": "C"})) == ["Other Rep's Account", "Team Account"]
    assert names(client.get(SCORES, {"key": "true"})) == ["Other Rep's Account"]
    assert names(client.get(SCORES, {"owner": world.rep.pk})) == ["Rep's Own Account"]
    assert names(client.get(SCORES, {"min_score": 50})) == ["Rep's Own Account", "Other Rep's Account"]
    changed = client.get(SCORES, {"changed_since_run": old.pk})
    assert names(changed) == ["Rep's Own Account", "Other Rep's Account"]
    assert_problem(client.get(SCORES, {"changed_since_run": 999999}), 400, field="changed_since_run")


def test_scores_page_with_a_cursor_in_the_order_asked(world, portfolio, key_for):
    client = key_for(world.manager, ["read"])
    seen, url, params = [], SCORES, {"page_size": 1, "ordering": "-score"}
    while url:
        body = client.get(url, params).json()
        seen += [row["score"] for row in body["results"]]
        url, params = body["next"], None
    assert seen == [85.0, 50.0, 30.0]


def test_a_conditional_get_is_a_bodiless_304_until_a_new_run(
    world, portfolio, key_for, make_run, match_schema
):
    client = key_for(world.integration, ["read"])
    first = client.get(SCORES, {"tier": "A"})
    etag = first["ETag"]
    assert etag.startswith('"')
    assert first["Cache-Control"] == "private, no-cache"
    again = client.get(SCORES, {"tier": "A"}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    match_schema(again, SCORES)
    assert client.get(SCORES, {"tier": "A"}, HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304
    assert client.get(SCORES, {"tier": "B"}, HTTP_IF_NONE_MATCH=etag).status_code == 200  # another query
    make_run({world.rep_account: (90.0, "A", 1)})
    changed = client.get(SCORES, {"tier": "A"}, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_the_etag_is_per_user(world, portfolio, key_for):
    manager_etag = key_for(world.manager, ["read"]).get(SCORES)["ETag"]
    rep = key_for(world.rep, ["read"])
    assert rep.get(SCORES, HTTP_IF_NONE_MATCH=manager_etag).status_code == 200


def test_before_any_run_the_portfolio_is_empty(world, key_for, match_schema):
    response = key_for(world.manager, ["read"]).get(SCORES)
    assert response.json() == {"run": None, "next": None, "previous": None, "results": []}
    match_schema(response, SCORES)


def test_pulling_scores_costs_a_fixed_number_of_queries(
    world, make_run, key_for, django_assert_max_num_queries
):
    accounts = AccountFactory.create_batch(60, owner=world.rep)
    make_run({account: (float(n), "B", n + 1) for n, account in enumerate(accounts)})
    client = key_for(world.rep, ["read"])
    client.get(SCORES)
    # key lookup, current run (with its model), one page of results joined to their accounts
    with django_assert_max_num_queries(3):
        response = client.get(SCORES, {"page_size": 100})
    assert len(response.json()["results"]) == 60
    with django_assert_max_num_queries(2):
        assert client.get(SCORES, {"page_size": 100}, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_score_history_per_account(world, portfolio, key_for, match_schema, django_assert_max_num_queries):
    old, new = portfolio
    client = key_for(world.rep, ["read"])
    url = f"/api/v1/accounts/{world.rep_account.pk}/scores/"
    client.get(url)
    with django_assert_max_num_queries(4):
        response = client.get(url)
    rows = response.json()["results"]
    assert [(r["run"], r["tier"], r["score"]) for r in rows] == [(new.pk, "A", 85.0), (old.pk, "B", 40.0)]
    match_schema(response, "/api/v1/accounts/{account_pk}/scores/")
    assert_problem(client.get(f"/api/v1/accounts/{world.other_account.pk}/scores/"), 404)


def test_runs_are_listed_and_retrieved(world, portfolio, key_for, match_schema):
    old, new = portfolio
    client = key_for(world.rep, ["read"])
    listed = client.get(RUNS)
    assert [r["id"] for r in listed.json()["results"]] == [new.pk, old.pk]
    match_schema(listed, RUNS)
    one = client.get(f"{RUNS}{new.pk}/")
    assert (one.json()["status"], one.json()["model_version"]) == ("succeeded", new.model.version)
    match_schema(one, "/api/v1/scoring/runs/{id}/")
    assert client.get(RUNS, {"status": "failed"}).json()["count"] == 0


@pytest.mark.usefixtures("eager_tasks")
def test_a_manager_starts_a_run_and_polls_its_location(
    world, scoring_model, key_for, match_schema, django_capture_on_commit_callbacks
):
    client = key_for(world.manager, [ApiScope.READ, ApiScope.RUN_SCORING])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RUNS, {"as_of": "2026-11-01"}, format="json")
    assert response.status_code == 202, response.content
    match_schema(response, RUNS, "post")
    assert response.json()["status"] == "queued"
    location = response["Location"]
    assert location == f"{RUNS}{response.json()['id']}/"
    polled = client.get(location).json()
    assert (polled["status"], polled["as_of"], polled["trigger"]) == ("succeeded", "2026-11-01", "api")
    assert polled["accounts_scored"] == Account.objects.count()


def test_only_managers_start_runs(world, session_as, key_for):
    assert_problem(session_as(world.rep).post(RUNS, {}, format="json"), 403)
    rep_key = key_for(world.rep)  # every scope a rep's key can hold
    assert_problem(rep_key.post(RUNS, {}, format="json"), 403)
    assert not ScoringRun.objects.exists()


def test_a_run_in_progress_is_a_409_problem(world, key_for, make_run):
    running = make_run({}, status=RunStatus.RUNNING)
    body = assert_problem(key_for(world.manager).post(RUNS, {}, format="json"), 409)
    assert body["type"] == "urn:kam:problem:run-in-progress"
    assert str(running.pk) in body["detail"]


def test_a_future_as_of_is_a_400_problem(world, key_for):
    assert_problem(
        key_for(world.manager).post(RUNS, {"as_of": "2999-01-01"}, format="json"), 400, field="as_of"
    )


@pytest.mark.django_db(transaction=True)
def test_a_job_queue_that_is_down_is_a_503_problem(world, scoring_model, key_for):
    from kam.celery import app
    from scoring.tasks import portfolio_recompute_task

    refused = kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with mock.patch.object(portfolio_recompute_task, "delay", side_effect=refused):
            response = key_for(world.manager).post(RUNS, {}, format="json")
    finally:
        app.conf.task_always_eager = previous
    body = assert_problem(response, 503)
    assert body["type"] == "urn:kam:problem:job-queue-unavailable"
    assert response["Retry-After"] == "60"
    assert ScoringRun.objects.get().status == RunStatus.FAILED


def test_the_active_model(world, scoring_model, key_for, match_schema):
    client = key_for(world.rep, ["read"])
    response = client.get("/api/v1/scoring/model/")
    model = scoring_model
    assert response.json()["version"] == model.version
    assert sum(response.json()["normalised_weights"].values()) == pytest.approx(1.0)
    match_schema(response, "/api/v1/scoring/model/")
    ScoringModel.objects.update(is_active=False)
    assert_problem(client.get("/api/v1/scoring/model/"), 404)
