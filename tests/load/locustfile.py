"""The load test: reps, managers and integrations against a running KAM (see tests/load/run.sh, `make loadtest`).

Not collected by pytest (only test_*.py files are). Run headless by run.sh; by hand:

    KAM_LOAD_API_KEYS=kam_... .venv/bin/locust -f tests/load/locustfile.py --headless \
        --host http://127.0.0.1:8765 -u 60 -r 10 -t 2m

The app runs with production settings behind what looks like a TLS proxy: every request carries
`X-Forwarded-Proto: https` (so HTTPS redirects, secure cookies and CSRF origin checks apply as in production)
and POSTs an `Origin`, as a browser does. Each demo login logs in once and its simulated users share that
session, as one person's browser tabs do: a login costs a deliberately slow password hash, which is not what
this test measures.
"""

import datetime
import os
import random
import re
import uuid
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import gevent.lock
from locust import FastHttpUser, between, task

PASSWORD = os.environ.get("KAM_LOAD_PASSWORD", "demo-pass-2026")
REPS = os.environ.get("KAM_LOAD_REPS", "rep1,rep2,rep3,rep4").split(",")
MANAGERS = os.environ.get("KAM_LOAD_MANAGERS", "manager").split(",")
API_KEYS = [key for key in os.environ.get("KAM_LOAD_API_KEYS", "").split(",") if key]
ORDERS_PER_PUSH = (5, 25)

ACCOUNT_LINK = re.compile(r'href="/accounts/(\d+)/"')
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
INPUT_VALUE = re.compile(r'<input[^>]*name="(?P<name>[a-z_]+)"[^>]*value="(?P<value>[^"]*)"')
TIERS = ("A", "B", "C", "D")
SORTS = ("name", "-score", "rank", "due", "last_contact")
VISIT_KINDS = ("on_site", "meeting", "video_call", "phone_call", "business_review")

_sessions: dict[str, list] = {}
_login_locks: dict[str, gevent.lock.Semaphore] = {}


class BehindTlsProxy(DefaultCookiePolicy):
    """The app believes it is served over HTTPS (X-Forwarded-Proto), so its cookies are Secure: send them anyway."""

    def return_ok_secure(self, cookie, request):
        return True


class Browser(FastHttpUser):
    """A person in the browser, logged in as one of `logins`."""

    abstract = True
    logins: list[str] = []

    def on_start(self):
        host = urlsplit(self.host)
        self.origin = f"https://{host.netloc}"
        self.headers = {"X-Forwarded-Proto": "https"}
        self.username = random.choice(self.logins)
        self.account_ids: list[int] = []
        self.client.cookiejar.set_policy(BehindTlsProxy())
        with _login_locks.setdefault(self.username, gevent.lock.Semaphore()):
            if self.username not in _sessions:
                self._log_in()
                _sessions[self.username] = list(self.client.cookiejar)
        for cookie in _sessions[self.username]:
            self.client.cookiejar.set_cookie(cookie)

    def _log_in(self) -> None:
        page = self.client.get("/login/", headers=self.headers, name="login")
        token = CSRF_INPUT.search(page.text).group(1)
        with self.client.post(
            "/login/",
            data={"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers=self.post_headers("/login/"),
            allow_redirects=False,
            name="login",
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login as {self.username} failed: {response.status_code}")

    def post_headers(self, path: str) -> dict:
        return {**self.headers, "Origin": self.origin, "Referer": self.origin + path}

    def page(self, path: str, *, name: str, htmx: bool = False, expect: str = ""):
        headers = {**self.headers, "HX-Request": "true"} if htmx else self.headers
        with self.client.get(path, headers=headers, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
            elif expect and expect not in response.text:
                response.failure(f"{expect!r} not on the page")
            else:
                found = [int(pk) for pk in ACCOUNT_LINK.findall(response.text)]
                if found:
                    self.account_ids = found[:50]
        return response

    def list_query(self) -> str:
        filters = random.choice(
            [{}, {"mine": "1"}, {"tier": random.choice(TIERS)}, {"lapsed": "1"}, {"key": "yes"}, {"q": "a"}]
        )
        filters["sort"] = random.choice(SORTS)
        if random.random() < 0.3:
            filters["page"] = str(random.randint(2, 5))
        return "&".join(f"{k}={v}" for k, v in filters.items())


class Rep(Browser):
    """A key account manager: My day, the account list and its filters, account pages, logging visits."""

    weight = 6
    wait_time = between(0.5, 2.0)
    logins = REPS

    def on_start(self):
        super().on_start()
        self.page("/accounts/?mine=1", name="/accounts/ [page]", expect="Accounts")

    @task(3)
    def my_day(self):
        self.page("/", name="/ [my day]", expect="My day")

    @task(2)
    def account_list(self):
        self.page(f"/accounts/?{self.list_query()}", name="/accounts/ [page]", expect="Accounts")

    @task(4)
    def filter_accounts(self):
        self.page(f"/accounts/?{self.list_query()}", name="/accounts/ [htmx filter]", htmx=True)

    @task(4)
    def account_page(self):
        if self.account_ids:
            self.page(f"/accounts/{random.choice(self.account_ids)}/", name="/accounts/<id>/")

    @task(1)
    def log_visit(self):
        if not self.account_ids:
            return
        path = f"/accounts/{random.choice(self.account_ids)}/visits/new/"
        form = self.page(path, name="/accounts/<id>/visits/new/ [form]", expect="csrfmiddlewaretoken")
        if form.status_code != 200:
            return
        data = {m["name"]: m["value"] for m in INPUT_VALUE.finditer(form.text)}
        data |= {
            "date": (datetime.date.today() - datetime.timedelta(days=random.randint(0, 3))).isoformat(),
            "kind": random.choice(VISIT_KINDS),
            "summary": f"Load test visit {uuid.uuid4().hex[:8]}: reviewed open orders and next quarter.",
            "next_steps": "",
            "follow_up_date": "",
        }
        data.pop("next", None)
        with self.client.post(
            path,
            data=data,
            headers=self.post_headers(path),
            allow_redirects=False,
            name="/accounts/<id>/visits/new/ [post]",
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"visit not logged: {response.status_code}")


class Manager(Browser):
    """A sales manager: the portfolio dashboard, its filters, the account list."""

    weight = 1
    wait_time = between(1.0, 3.0)
    logins = MANAGERS

    @task(3)
    def dashboard(self):
        self.page("/scoring/", name="/scoring/ [dashboard]", expect="Portfolio")

    @task(2)
    def dashboard_filter(self):
        region = random.choice(["", "DACH", "Benelux", "Nordics"])
        with self.client.get(
            f"/scoring/?region={region}",
            headers={**self.headers, "HX-Request": "true", "HX-Target": "dashboard-body"},
            name="/scoring/ [htmx filter]",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")

    @task(2)
    def account_list(self):
        self.page(f"/accounts/?{self.list_query()}", name="/accounts/ [page]", expect="Accounts")

    @task(1)
    def account_page(self):
        if self.account_ids:
            self.page(f"/accounts/{random.choice(self.account_ids)}/", name="/accounts/<id>/")


class Integration(FastHttpUser):
    """An ERP or BI system with its own API key: polls the scores with ETags, pushes small order batches."""

    weight = 3
    wait_time = between(0.5, 1.5)
    _next_key = 0

    def on_start(self):
        if not API_KEYS:
            raise RuntimeError("Set KAM_LOAD_API_KEYS to one or more API keys (comma-separated).")
        key = API_KEYS[Integration._next_key % len(API_KEYS)]
        Integration._next_key += 1
        self.auth = {
            "Authorization": f"Bearer {key}",
            "Accept": "application/json",
            "X-Forwarded-Proto": "https",
        }
        self.etags: dict[str, str] = {}
        self.account_ids: list[int] = []
        self.batch = uuid.uuid4().hex[:10]
        self.pushed = 0
        self.pull_scores("/api/v1/scores/?page_size=100")

    def pull_scores(self, path: str) -> None:
        headers = dict(self.auth)
        if path in self.etags:
            headers["If-None-Match"] = self.etags[path]
        name = "/api/v1/scores/ [conditional]" if path in self.etags else "/api/v1/scores/"
        with self.client.get(path, headers=headers, name=name, catch_response=True) as response:
            if response.status_code == 200:
                self.etags[path] = response.headers.get("ETag", "")
                self.account_ids = [row["account"] for row in response.json()["results"]][:100]
            elif response.status_code != 304:
                response.failure(f"{response.status_code}")

    @task(6)
    def poll_scores(self):
        self.pull_scores("/api/v1/scores/?page_size=100")

    @task(1)
    def key_accounts(self):
        tier = random.choice(TIERS)
        self.pull_scores(f"/api/v1/scores/?tier={tier}&page_size=50")

    @task(3)
    def push_orders(self):
        if not self.account_ids:
            return
        today = datetime.date.today()
        orders = []
        for _ in range(random.randint(*ORDERS_PER_PUSH)):
            self.pushed += 1
            revenue = random.randint(500, 50_000)
            orders.append(
                {
                    "account": random.choice(self.account_ids),
                    "reference": f"LOAD-{self.batch}-{self.pushed}",
                    "date": (today - datetime.timedelta(days=random.randint(0, 5))).isoformat(),
                    "revenue": f"{revenue}.00",
                    "variable_cost": f"{int(revenue * random.uniform(0.55, 0.9))}.00",
                }
            )
        with self.client.post(
            "/api/v1/orders/bulk/",
            json={"orders": orders},
            headers=self.auth,
            name="/api/v1/orders/bulk/",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or response.json().get("created") != len(orders):
                response.failure(f"{response.status_code}: {response.text[:200]}")
