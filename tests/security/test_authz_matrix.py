"""The authorization matrix: every named route in the URLconf, for every principal, with the expected outcome.

The routes come from the URL configuration itself (`django.urls.get_resolver()`, walked recursively through
every include: pages, htmx partials, exports, the API and the admin). `test_every_route_has_a_row` fails when
a route has no row here, so a new route cannot ship without someone deciding who may use it.

How to add a route
------------------
Add an entry to ROUTES, keyed by the route's full name (``"namespace:name"``)::

    "accounts:detail": Row(
        url=lambda o: reverse("accounts:detail", args=[o.account.pk]),
        get=web(),                        # the expected outcome for every principal on GET
    ),

- ``url`` builds the address from the matrix objects ``o`` (see `Objects` and the `objects` fixture; add a
  field there if your route needs a new kind of object). Objects under an account hang off ``o.account``,
  which ``rep`` owns and ``other_rep`` cannot see.
- ``get`` / ``post`` / ``put`` / ``patch`` / ``delete``: one dict per method you want checked, mapping every
  principal to an outcome. Build them with the helpers below and override single principals by keyword:
  ``web(rep=403)``, ``api_read(other_rep=200)``, ``api_write("write_visits", 400)``. Test POST-only views with
  ``post=`` (a GET there is a 405 for everybody). ``data`` is the body of a write (form fields for pages,
  JSON for /api/); an empty body is usually best: a 400 then proves the request got past every permission
  check without changing anything.
- Outcomes are a status code, or LOGIN (a 302 to the login page) or ADMIN_LOGIN (a 302 to the admin's).
  An expected 302 must not be a redirect to a login page.

Principals
----------
anonymous; ``rep`` (owns ``o.account`` and everything under it); ``other_rep`` (another rep: not the owner, not
on the team, so the account does not exist for them: 404); ``manager``; ``integration`` (the integration user
logged in with a browser session: API reads only); ``superuser`` (the Django admin); and API keys, which
authenticate only the API (pages treat them as anonymous): the integration user's keys with exactly one
scope each (``key_read``, ``key_write_accounts``, ``key_write_orders``, ``key_write_visits``), a manager's
key with only ``run_scoring`` (only a manager's key may hold it) and a rep's key with ``read``
(``rep_key_read``: a key sees what its user sees).

Admin routes are generated per registered model (`_admin_rows`): the admin's rule is one for every model
(active staff only), so its rows are uniform and check ADMIN_PRINCIPALS (the other keys would only repeat
key_read); a newly registered model needs an object in `_ADMIN_OBJECTS`, and a view that answers
differently an entry in `_ADMIN_OVERRIDES`. Unnamed routes (the /api/ catch-all 404 and the admin's
catch-alls) cannot be reversed and are not listed.

Speed: the objects (and one session per person) are built once per module inside a transaction rolled back
at the end; each case runs in its own savepoint, so a write by one principal never leaks into the next.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import AlertKind, CadenceAlert, KeyDesignation, Role
from integrations.models import ApiKey, WebhookEndpoint
from kam.api.scopes import ApiScope
from scoring.models import RunStatus, ScoringRun
from scoring.selectors import active_model
from tests.factories import (
    AccountFactory,
    ActionFactory,
    InfluencerFactory,
    ObjectiveFactory,
    OrderFactory,
    PlanFactory,
    ProfileFactory,
    ServiceIssueFactory,
    TeamMemberFactory,
    UserFactory,
    VisitFactory,
)

LOGIN = "302 to login"
ADMIN_LOGIN = "302 to admin login"
Outcome = int | str
Expect = dict[str, Outcome]

PEOPLE = ("rep", "other_rep", "manager", "integration", "superuser")
KEYS = (
    "key_read",
    "key_write_accounts",
    "key_write_orders",
    "key_write_visits",
    "key_run_scoring",
    "rep_key_read",
)
PRINCIPALS = ("anonymous", *PEOPLE, *KEYS)


def _expect(base: Expect, overrides: dict[str, Outcome]) -> Expect:
    unknown = set(overrides) - set(PRINCIPALS)
    assert not unknown, f"unknown principals {unknown}; choose from {PRINCIPALS}"
    return {**base, **overrides}


def everyone(outcome: Outcome, **overrides: Outcome) -> Expect:
    return _expect(dict.fromkeys(PRINCIPALS, outcome), overrides)


def web(**overrides: Outcome) -> Expect:
    """A staff page about `o.account` (or something under it): the owner and managers in, others 404."""
    base = {
        "anonymous": LOGIN,
        "rep": 200,
        "other_rep": 404,
        "manager": 200,
        "integration": 403,  # integration users use the API only
        "superuser": 200,
        **dict.fromkeys(KEYS, LOGIN),  # an API key does not log anyone in to the pages
    }
    return _expect(base, overrides)


def web_manager(ok: Outcome = 200, **overrides: Outcome) -> Expect:
    """A managers-only page: reps get 403 whatever they own."""
    return web(rep=403, other_rep=403, manager=ok, superuser=ok, **overrides)


def api_read(**overrides: Outcome) -> Expect:
    """An API read of `o.account` or something under it: needs the read scope (a key) or a session."""
    base = {
        "anonymous": 401,
        "rep": 200,
        "other_rep": 404,
        "manager": 200,
        "integration": 200,
        "superuser": 200,
        "key_read": 200,
        "key_write_accounts": 403,
        "key_write_orders": 403,
        "key_write_visits": 403,
        "key_run_scoring": 403,
        "rep_key_read": 200,
    }
    return _expect(base, overrides)


def api_write(scope: str, ok: Outcome, **overrides: Outcome) -> Expect:
    """An API write needing `scope` on a key; integration users never write through a session."""
    base = {
        "anonymous": 401,
        "rep": ok,
        "other_rep": 404,
        "manager": ok,
        "integration": 403,
        "superuser": ok,
        **dict.fromkeys(KEYS, 403),
        f"key_{scope}": ok,
    }
    return _expect(base, overrides)


@dataclass(frozen=True)
class Row:
    url: Callable[[Objects], str]
    get: Expect | None = None
    post: Expect | None = None
    put: Expect | None = None
    patch: Expect | None = None
    delete: Expect | None = None
    data: dict = field(default_factory=dict)

    def cases(self):
        for method in ("get", "post", "put", "patch", "delete"):
            expect = getattr(self, method)
            if expect is not None:
                yield method, expect


@dataclass
class Objects:
    """What the rows' URLs point at. `account` and everything under it belong to `rep`."""

    users: dict
    raw_keys: dict
    account: object
    team_account: object
    member: object
    profile: object
    influencer: object
    plan: object
    objective: object
    action: object
    visit: object
    issue: object
    order: object
    designation: object
    alert: object
    run: object
    webhook: object
    api_key: object
    group: object
    import_record: object = None  # an upload by `manager`, waiting to be mapped and imported
    login_records: dict = field(default_factory=dict)
    session_cookies: dict = field(default_factory=dict)


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # API throttle counters live in the cache keyed by user, key or address; ids repeat across tests.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="module")
def objects(django_db_setup, django_db_blocker):
    """The matrix world, built once for the module inside a transaction that is rolled back at the end.

    Each test still runs in its own savepoint (the `db` fixture), so a write by one principal (a delete, a
    revoke) is undone before the next one asks. Building it per test would cost minutes over ~2,000 cases.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build_objects()
        transaction.set_rollback(True)


@pytest.fixture
def o(objects, db) -> Objects:
    return objects


def _build_objects() -> Objects:
    # The same people as the `world` fixture in tests/conftest.py, plus a superuser for the admin.
    manager = UserFactory(username="manager", role=Role.MANAGER)
    rep = UserFactory(username="rep", role=Role.REP, manager=manager)
    other_rep = UserFactory(username="other_rep", role=Role.REP, manager=manager)
    integration = UserFactory(username="integration", role=Role.INTEGRATION)
    colleague = UserFactory(username="engineer", role=Role.REP)
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True)
    account = AccountFactory(name="Rep's Own Account", owner=rep)
    team_account = AccountFactory(name="Team Account", owner=other_rep)
    TeamMemberFactory(account=team_account, user=rep, function="sales")
    AccountFactory(name="Other Rep's Account", owner=other_rep)
    plan = PlanFactory(account=account)
    users = {
        "rep": rep,
        "other_rep": other_rep,
        "manager": manager,
        "integration": integration,
        "superuser": superuser,
    }
    key_specs = {
        "key_read": (integration, [ApiScope.READ]),
        "key_write_accounts": (integration, [ApiScope.WRITE_ACCOUNTS]),
        "key_write_orders": (integration, [ApiScope.WRITE_ORDERS]),
        "key_write_visits": (integration, [ApiScope.WRITE_VISITS]),
        "key_run_scoring": (manager, [ApiScope.RUN_SCORING]),
        "rep_key_read": (rep, [ApiScope.READ]),
    }
    raw_keys = {}
    for principal, (user, scopes) in key_specs.items():
        _, raw_keys[principal] = ApiKey.issue(name=principal, user=user, scopes=scopes, created_by=manager)
    spare_key, _ = ApiKey.issue(name="spare", user=rep, scopes=[ApiScope.READ], created_by=manager)
    return Objects(
        users=users,
        raw_keys=raw_keys,
        account=account,
        team_account=team_account,
        member=TeamMemberFactory(account=account, user=colleague),
        profile=ProfileFactory(account=account),
        influencer=InfluencerFactory(account=account),
        plan=plan,
        objective=ObjectiveFactory(plan=plan),
        action=ActionFactory(plan=plan),
        visit=VisitFactory(account=account),
        issue=ServiceIssueFactory(account=account),
        order=OrderFactory(account=account),
        designation=KeyDesignation.objects.create(
            account=account, is_key=True, reason="Strategic partner.", decided_by=manager
        ),
        alert=CadenceAlert.objects.create(
            account=account, kind=AlertKind.LAPSED_CADENCE, opened_on=timezone.localdate()
        ),
        run=ScoringRun.objects.create(
            model=active_model(),
            as_of=datetime.date(2026, 1, 1),
            status=RunStatus.SUCCEEDED,
            holds_lock=False,
            finished_at=timezone.now(),
        ),
        # A loopback address: a test ping is refused at once instead of leaving the machine.
        webhook=WebhookEndpoint.objects.create(
            owner=rep,
            url="http://127.0.0.1:9/hook",
            secret=WebhookEndpoint.new_secret(),
            events=["run.succeeded"],
        ),
        api_key=spare_key,
        group=Group.objects.create(name="Auditors"),
        import_record=_import_record(manager),
        login_records=_login_records(),
        # One session per person for the whole module (a test's logout is rolled back with its savepoint).
        session_cookies={principal: _session_cookie(user) for principal, user in users.items()},
    )


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _login_records() -> dict:
    """django-axes' records of failed and successful log-ins (browsable, read-only, in the admin)."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    seen = {"user_agent": "pytest", "ip_address": "203.0.113.7", "username": "rep", "http_accept": "*/*"}
    return {
        "axes_accessattempt": AccessAttempt.objects.create(
            **seen, path_info="/login/", get_data="", post_data="", failures_since_start=1
        ),
        "axes_accesslog": AccessLog.objects.create(**seen, path_info="/login/"),
        "axes_accessfailurelog": AccessFailureLog.objects.create(**seen, path_info="/login/"),
    }


def _import_record(manager):
    from dataio.imports.service import import_start

    record, _ = import_start(
        kind="accounts", user=manager, file_name="accounts.csv", content=b"reference,name\nM-1,Matrix\n"
    )
    return record


def _r(name: str, *attrs: str, **kwargs) -> Callable[[Objects], str]:
    """A url builder: _r("plans:detail", "plan") reverses with args [o.plan.pk]."""
    return lambda o: reverse(name, args=[getattr(o, a).pk for a in attrs], kwargs=kwargs or None)


def _api(name: str, *attrs: str) -> Callable[[Objects], str]:
    return lambda o: reverse(f"v1:{name}", args=[getattr(o, a).pk for a in attrs])


# --- The matrix ---------------------------------------------------------------------------------------------

ROUTES: dict[str, Row] = {
    # Authentication and health: open to all. A logged-in person is sent on from the login page.
    "login": Row(url=_r("login"), get=everyone(200, **dict.fromkeys(PEOPLE, 302))),
    # Django's LogoutView takes POST only; anyone may log out (a no-op when logged out) and lands on login.
    "logout": Row(url=_r("logout"), get=everyone(405), post=everyone(LOGIN)),
    "healthz": Row(url=_r("healthz"), get=everyone(200)),
    # Every person may change their own password; integration users have no pages.
    "password_change": Row(url=_r("password_change"), get=web(other_rep=200)),
    "password_change_done": Row(url=_r("password_change_done"), get=web(other_rep=200)),
    # --- Pages for people (kam.web.staff_page): a rep sees what they own or are on the team of ---
    "home": Row(url=_r("home"), get=web(other_rep=200)),
    "accounts:list": Row(url=_r("accounts:list"), get=web(other_rep=200)),
    "accounts:export": Row(url=_r("accounts:export"), get=web(other_rep=200)),
    "accounts:create": Row(url=_r("accounts:create"), get=web(other_rep=200)),
    "accounts:detail": Row(url=_r("accounts:detail", "account"), get=web()),
    "accounts:edit": Row(url=_r("accounts:edit", "account"), get=web()),
    "accounts:visit_create": Row(url=_r("accounts:visit_create", "account"), get=web()),
    # Key designation is a management decision: a rep gets 403 even on their own account.
    "accounts:designation": Row(url=_r("accounts:designation", "account"), get=web_manager()),
    "accounts:issue_create": Row(url=_r("accounts:issue_create", "account"), get=web()),
    "accounts:team_add": Row(url=_r("accounts:team_add", "account"), get=web()),
    "accounts:team_remove": Row(
        url=lambda o: reverse("accounts:team_remove", args=[o.account.pk, o.member.pk]),
        get=everyone(405),
        post=web(rep=302, manager=302, superuser=302),
    ),
    "profiles:edit": Row(url=_r("profiles:edit", "account"), get=web()),
    "profiles:history": Row(url=_r("profiles:history", "account"), get=web()),
    "profiles:influencer_create": Row(url=_r("profiles:influencer_create", "account"), get=web()),
    "profiles:influencer_edit": Row(url=_r("profiles:influencer_edit", "influencer"), get=web()),
    "plans:list": Row(url=_r("plans:list", "account"), get=web()),
    "plans:create": Row(url=_r("plans:create", "account"), get=web()),
    "plans:detail": Row(url=_r("plans:detail", "plan"), get=web()),
    "plans:edit": Row(url=_r("plans:edit", "plan"), get=web()),
    "plans:close": Row(
        url=_r("plans:close", "plan"), get=everyone(405), post=web(rep=302, manager=302, superuser=302)
    ),
    "plans:objective_create": Row(url=_r("plans:objective_create", "plan"), get=web()),
    "plans:objective_edit": Row(url=_r("plans:objective_edit", "objective"), get=web()),
    "plans:action_create": Row(url=_r("plans:action_create", "plan"), get=web()),
    "plans:action_edit": Row(url=_r("plans:action_edit", "action"), get=web()),
    "plans:action_status": Row(
        url=_r("plans:action_status", "action"),
        get=everyone(405),
        post=web(rep=302, manager=302, superuser=302),
        data={"status": "done"},
    ),
    # --- Manager pages ---
    "scoring:dashboard": Row(url=_r("scoring:dashboard"), get=web_manager()),
    "scoring:capacity": Row(url=_r("scoring:capacity"), get=web_manager()),
    "scoring:model": Row(url=_r("scoring:model"), get=web_manager()),
    "scoring:model_preview": Row(url=_r("scoring:model_preview"), get=everyone(405), post=web_manager()),
    "scoring:run_list": Row(url=_r("scoring:run_list"), get=web_manager()),
    "scoring:run_start": Row(url=_r("scoring:run_start"), get=everyone(405), post=web_manager(302)),
    "scoring:run_detail": Row(url=_r("scoring:run_detail", "run"), get=web_manager()),
    "integrations:index": Row(url=_r("integrations:index"), get=web_manager()),
    "integrations:key_create": Row(url=_r("integrations:key_create"), get=web_manager()),
    "integrations:key_revoke": Row(
        url=_r("integrations:key_revoke", "api_key"), get=web_manager(405), post=web_manager(302)
    ),
    "integrations:webhook_create": Row(url=_r("integrations:webhook_create"), get=web_manager()),
    "integrations:webhook_edit": Row(url=_r("integrations:webhook_edit", "webhook"), get=web_manager()),
    "integrations:webhook_rotate": Row(
        url=_r("integrations:webhook_rotate", "webhook"), get=web_manager(405), post=web_manager()
    ),
    "integrations:webhook_ping": Row(
        url=_r("integrations:webhook_ping", "webhook"), get=web_manager(405), post=web_manager(302)
    ),
    "integrations:webhook_delete": Row(
        url=_r("integrations:webhook_delete", "webhook"), get=web_manager(405), post=web_manager(302)
    ),
    # The audit trail: managers only, including the history of records that no longer exist.
    "audit:list": Row(url=_r("audit:list"), get=web_manager()),
    "audit:record": Row(
        url=lambda o: reverse("audit:record", args=["account", o.account.pk]), get=web_manager()
    ),
    # --- Imports: managers only; the steps of an upload belong to the manager who uploaded it (superuser: 404) ---
    "imports:index": Row(url=_r("imports:index"), get=web_manager()),
    "imports:detail": Row(url=_r("imports:detail", "import_record"), get=web_manager()),
    "imports:map": Row(
        url=_r("imports:map", "import_record"), get=web(rep=403, other_rep=403, superuser=404)
    ),
    "imports:preview": Row(
        url=_r("imports:preview", "import_record"), get=web(rep=403, other_rep=403, superuser=404)
    ),
    "imports:commit": Row(
        url=_r("imports:commit", "import_record"),
        get=everyone(405),
        post=web(rep=403, other_rep=403, manager=302, superuser=404),
    ),
    "imports:discard": Row(
        url=_r("imports:discard", "import_record"),
        get=everyone(405),
        post=web(rep=403, other_rep=403, manager=302, superuser=404),
    ),
    # --- Exports: every person, scoped to what they may see (an account of theirs by ?account=) ---
    "exports:export": Row(
        url=lambda o: reverse("exports:export", args=["orders", "csv"]), get=web(other_rep=200)
    ),
    "exports:portfolio": Row(url=lambda o: reverse("exports:portfolio", args=["xlsx"]), get=web_manager()),
    # --- The API docs: public, like the API's own description ---
    "schema": Row(url=_r("schema"), get=everyone(200)),
    "api-docs": Row(url=_r("api-docs"), get=everyone(200)),
    # --- The REST API (/api/v1/) ---
    "v1:account-list": Row(
        url=_api("account-list"),
        get=api_read(other_rep=200),
        # An empty body is a 400 for whoever may create accounts.
        post=api_write("write_accounts", 400, other_rep=400),
    ),
    "v1:account-detail": Row(
        url=_api("account-detail", "account"),
        get=api_read(),
        put=api_write("write_accounts", 400),
        patch=api_write("write_accounts", 200),
    ),
    "v1:order-list": Row(url=_api("order-list"), get=api_read(other_rep=200)),
    # Every row is checked against the accounts the caller may change; an empty batch is a 400.
    "v1:order-bulk": Row(url=_api("order-bulk"), post=api_write("write_orders", 400, other_rep=400)),
    "v1:cadence-alert-list": Row(url=_api("cadence-alert-list"), get=api_read(other_rep=200)),
    "v1:cadence-alert-detail": Row(url=_api("cadence-alert-detail", "alert"), get=api_read()),
    "v1:cadence-alert-acknowledge": Row(
        url=_api("cadence-alert-acknowledge", "alert"), post=api_write("write_visits", 200)
    ),
    # Webhooks are the caller's own (the rep's here); reads and writes need only the read scope.
    "v1:webhook-list": Row(url=_api("webhook-list"), get=api_read(other_rep=200)),
    "v1:webhook-detail": Row(
        url=_api("webhook-detail", "webhook"),
        get=api_read(manager=404, integration=404, superuser=404, key_read=404),
        patch=api_read(
            manager=404, integration=403, superuser=404, key_read=404, rep_key_read=200, other_rep=404
        ),
        delete=api_read(rep=204, manager=404, integration=403, superuser=404, key_read=404, rep_key_read=204),
    ),
    "v1:webhook-deliveries": Row(
        url=_api("webhook-deliveries", "webhook"),
        get=api_read(manager=404, integration=404, superuser=404, key_read=404),
    ),
    "v1:webhook-ping": Row(
        url=_api("webhook-ping", "webhook"),
        post=api_read(rep=202, manager=404, integration=403, superuser=404, key_read=404, rep_key_read=202),
    ),
    "v1:webhook-rotate-secret": Row(
        url=_api("webhook-rotate-secret", "webhook"),
        post=api_read(manager=404, integration=403, superuser=404, key_read=404),
    ),
    "v1:account-visits": Row(
        url=_api("account-visits", "account"), get=api_read(), post=api_write("write_visits", 400)
    ),
    "v1:account-service-issues": Row(url=_api("account-service-issues", "account"), get=api_read()),
    "v1:account-influencers": Row(url=_api("account-influencers", "account"), get=api_read()),
    "v1:account-profile": Row(url=_api("account-profile", "account"), get=api_read()),
    "v1:account-plans": Row(url=_api("account-plans", "account"), get=api_read()),
    "v1:account-objectives": Row(url=_api("account-objectives", "account"), get=api_read()),
    "v1:account-actions": Row(url=_api("account-actions", "account"), get=api_read()),
    "v1:account-scores": Row(url=_api("account-scores", "account"), get=api_read()),
    "v1:score-list": Row(url=_api("score-list"), get=api_read(other_rep=200)),
    "v1:run-list": Row(
        url=_api("run-list"),
        get=api_read(other_rep=200),
        # Starting a run: a manager's session or a manager's key with run_scoring; an empty body is "as of
        # today" and answers 202 (queued; run in-process in tests).
        post=api_write("run_scoring", 202, rep=403, other_rep=403, integration=403),
    ),
    "v1:run-detail": Row(url=_api("run-detail", "run"), get=api_read(other_rep=200)),
    "v1:scoring-model": Row(url=_api("scoring-model"), get=api_read(other_rep=200)),
}


# --- The admin: one rule (active staff) for every registered model -----------------------------------------

_ADMIN_OBJECTS: dict[str, Callable[[Objects], object]] = {
    "auth_group": lambda o: o.group,
    "accounts_user": lambda o: o.users["rep"],
    "accounts_account": lambda o: o.account,
    "accounts_keydesignation": lambda o: o.designation,
    "accounts_order": lambda o: o.order,
    "accounts_visit": lambda o: o.visit,
    "accounts_serviceissue": lambda o: o.issue,
    "profiles_accountprofile": lambda o: o.profile,
    "profiles_buyinginfluencer": lambda o: o.influencer,
    "plans_accountplan": lambda o: o.plan,
    "plans_planaction": lambda o: o.action,
    "axes_accessattempt": lambda o: o.login_records["axes_accessattempt"],
    "axes_accesslog": lambda o: o.login_records["axes_accesslog"],
    "axes_accessfailurelog": lambda o: o.login_records["axes_accessfailurelog"],
}
# Admin views that answer differently from the rule: axes' log-in records are written by axes only.
_ADMIN_OVERRIDES = {
    "admin:axes_accessattempt_add": 403,
    "admin:axes_accesslog_add": 403,
    "admin:axes_accessfailurelog_add": 403,
}
# simple_history before history: "x_simple_history" also ends with "_history".
_ADMIN_VIEWS = ("changelist", "add", "simple_history", "history", "delete", "change")


# The admin ignores API keys and roles alike (only is_staff counts), so its rows check these principals; the
# other keys would repeat key_read's answer ~70 times.
ADMIN_PRINCIPALS = ("anonymous", "rep", "manager", "integration", "superuser", "key_read")


def admin_only(ok: Outcome = 200, **overrides: Outcome) -> Expect:
    expect = everyone(ADMIN_LOGIN, superuser=ok, **overrides)
    return {principal: expect[principal] for principal in ADMIN_PRINCIPALS}


def _admin_object(model_key: str) -> Callable[[Objects], object]:
    def get(o: Objects):
        assert model_key in _ADMIN_OBJECTS, f"add an object for the admin of {model_key} to _ADMIN_OBJECTS"
        return _ADMIN_OBJECTS[model_key](o)

    return get


def _admin_model_row(name: str, model_key: str, view: str) -> Row:
    obj = _admin_object(model_key)
    if view in ("changelist", "add"):
        return Row(url=lambda o: reverse(name), get=admin_only(_ADMIN_OVERRIDES.get(name, 200)))
    if view == "simple_history":
        return Row(
            url=lambda o: reverse(name, args=[obj(o).pk, obj(o).history.latest().history_id]),
            get=admin_only(),
        )
    return Row(url=lambda o: reverse(name, args=[obj(o).pk]), get=admin_only())


def _admin_rows(names) -> dict[str, Row]:
    rows = {
        "admin:index": Row(url=_r("admin:index"), get=admin_only()),
        # Anyone may see the admin's login form; a logged-in superuser is sent to the index.
        "admin:login": Row(url=_r("admin:login"), get=everyone(200, superuser=302)),
        # Logging out of the admin logs out of the app; whoever is not staff is sent back to the admin index.
        "admin:logout": Row(url=_r("admin:logout"), post=everyone(302, superuser=LOGIN)),
        "admin:password_change": Row(url=_r("admin:password_change"), get=admin_only()),
        "admin:password_change_done": Row(url=_r("admin:password_change_done"), get=admin_only()),
        # Without its query parameters the autocomplete refuses even a superuser.
        "admin:autocomplete": Row(url=_r("admin:autocomplete"), get=admin_only(403)),
        "admin:jsi18n": Row(url=_r("admin:jsi18n"), get=admin_only()),
        "admin:view_on_site": Row(
            url=lambda o: reverse(
                "admin:view_on_site", args=[ContentType.objects.get_for_model(o.account).pk, o.account.pk]
            ),
            get=admin_only(302),
        ),
        "admin:app_list": Row(url=lambda o: reverse("admin:app_list", args=["accounts"]), get=admin_only()),
        "admin:auth_user_password_change": Row(
            url=lambda o: reverse("admin:auth_user_password_change", args=[o.users["rep"].pk]),
            get=admin_only(),
        ),
    }
    for name in names:
        if not name.startswith("admin:") or name in rows:
            continue
        for view in _ADMIN_VIEWS:
            if name.endswith("_" + view):
                model_key = name.removeprefix("admin:").removesuffix("_" + view)
                rows[name] = _admin_model_row(name, model_key, view)
                break
    return rows


# --- The URLconf ------------------------------------------------------------------------------------------


def route_names(resolver=None, namespace: str | None = None) -> set[str]:
    """Every named route, by full name, found by walking the URLconf through every include."""
    resolver = resolver or get_resolver()
    names = set()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            names |= route_names(entry, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{namespace}:{entry.name}" if namespace else entry.name)
    return names


ALL_ROUTES = {**ROUTES, **_admin_rows(route_names())}
CASES = [
    pytest.param(name, method, principal, id=f"{name}-{method}-{principal}")
    for name, row in sorted(ALL_ROUTES.items())
    for method, expect in row.cases()
    for principal in PRINCIPALS
    if principal in expect
]


def test_every_route_has_a_row():
    missing = route_names() - set(ALL_ROUTES)
    assert not missing, (
        f"routes without a row in tests/security/test_authz_matrix.py ROUTES: {sorted(missing)}"
    )


def test_no_row_for_a_route_that_is_gone():
    assert not set(ALL_ROUTES) - route_names()


def test_every_row_names_every_principal():
    for name, row in ALL_ROUTES.items():
        cases = list(row.cases())
        assert cases, f"{name}: the row checks no method"
        for method, expect in cases:
            needed = set(ADMIN_PRINCIPALS if name.startswith("admin:") else PRINCIPALS)
            assert needed <= set(expect), f"{name} {method}: missing {needed - set(expect)}"


def _client(principal: str, o: Objects) -> Client:
    client = Client()
    if principal in o.users:
        client.cookies[settings.SESSION_COOKIE_NAME] = o.session_cookies[principal]
    elif principal in o.raw_keys:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {o.raw_keys[principal]}"
    return client


@pytest.mark.parametrize(("name", "method", "principal"), CASES)
def test_authorization(o, name, method, principal):
    row = ALL_ROUTES[name]
    expected = dict(row.cases())[method][principal]
    url = row.url(o)
    client = _client(principal, o)
    if method == "get":
        response = client.get(url)
    elif url.startswith("/api/"):
        response = getattr(client, method)(url, data=json.dumps(row.data), content_type="application/json")
    else:
        response = getattr(client, method)(url, data=row.data)

    location = response.get("Location", "")
    login_url, admin_login_url = resolve_url(settings.LOGIN_URL), reverse("admin:login")
    seen = f"{method.upper()} {url} as {principal}: {response.status_code} {location}".strip()
    if expected == LOGIN:
        assert (response.status_code, location.startswith(login_url)) == (302, True), seen
    elif expected == ADMIN_LOGIN:
        assert (response.status_code, location.startswith(admin_login_url)) == (302, True), seen
    else:
        assert response.status_code == expected, seen
        if expected == 302:
            assert not location.startswith((login_url, admin_login_url)), seen
