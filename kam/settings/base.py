"""Settings shared by every environment. Everything that varies comes from the environment (see kam/env.py)."""

import datetime
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from kam.env import env, env_bool, env_int, env_list, env_time

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env("SECRET_KEY", "local-only-insecure-key-never-use-in-production")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "kam.errors.csrf_failure"  # our layout; Django's page is styled inline (CSP)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "django_htmx",
    "template_partials",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    # Lowest first: each app may import only the apps above it in this list (import-linter, .importlinter).
    "accounts",
    "integrations",
    "profiles",
    "plans",
    "scoring",
    "dataio",
    "workspace",
    "audit",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "kam.security.SecurityHeadersMiddleware",  # CSP, Permissions-Policy, CORP on every response
    "kam.security.UnreadBodyCloseMiddleware",  # outside the size limit: its 413 closes the connection too
    "kam.security.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kam.security.QueryStringGuardMiddleware",  # after auth: its 400 page shows the user's own layout
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "kam.web.HtmxLoginRedirectMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kam.urls"
WSGI_APPLICATION = "kam.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kam.context_processors.kam",
            ],
            # Badges, pills, dates, money and percents on every page, without a {% load %} in each template.
            "builtins": ["kam.templatetags.ui"],
        },
    },
]

# The embedded default is a SQLite file in the project, so `make run` needs no server.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out login before the password is even checked (kam/security.py).
AUTHENTICATION_BACKENDS = [
    "kam.security.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
# Sessions are written to the database and read from the cache: one Redis lookup per request instead of a
# query, and nothing is lost when Redis restarts.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_EXPIRE_AT_BROWSER_CLOSE = False

# --- Login throttling (django-axes): failures count per username *and* address, so a stranger guessing
# passwords cannot lock a colleague out from elsewhere; a success clears the count.
AXES_FAILURE_LIMIT = env_int("KAM_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("KAM_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "kam.security.lockout_response"
AXES_CLIENT_IP_CALLABLE = "kam.security.client_ip"
AXES_VERBOSE = False
# How many reverse proxies in front of the app append to X-Forwarded-For (0: use the peer address).
KAM_PROXY_COUNT = env_int("KAM_PROXY_COUNT", 0)

# --- Request size limits. Form posts are small; an API body has its own limit (KAM_API_MAX_REQUEST_BYTES);
# KAM_MAX_REQUEST_BYTES caps any body, uploads included, before it is read (413).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env_int("DATA_UPLOAD_MAX_NUMBER_FIELDS", 1000)
# It must stay above the import limit (KAM_IMPORT_MAX_BYTES, 200 MB) plus the form around the file.
KAM_MAX_REQUEST_BYTES = env_int("KAM_MAX_REQUEST_BYTES", 256 * 1024 * 1024)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "Europe/Amsterdam")
# The product is in English only and translates nothing: with translation on, every date, number and form
# label asked asgiref's context-local for the active language (a third of My day's rendering time).
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Browser libraries come from installed Python packages, never a CDN or a vendored copy.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "kam.staticfiles.PackagedAssetsFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Email (console by default; SMTP when EMAIL_HOST is set) ---
EMAIL_HOST = env("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "KAM <kam@localhost>")

# --- REST API (/api/v1/; the glue is kam/api.py) ---
REST_FRAMEWORK = {
    # The key first: its authenticate_header makes DRF answer 401, not 403, to a request without credentials.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "kam.api.permissions.ScopePermission",
    ],
    "DEFAULT_FILTER_BACKENDS": ["kam.api.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "kam.api.pagination.PagePagination",
    "PAGE_SIZE": 100,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["kam.api.parsers.LimitedJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["kam.api.throttling.KeyRateThrottle"],
    "EXCEPTION_HANDLER": "kam.api.problems.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "kam.api.schema.ProblemAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "KAM API",
    "DESCRIPTION": "Key account management: accounts, scores and the relationship record.",
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "displayOperationId": False},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "kam.api.schema.describe_api"],
    "ENUM_NAME_OVERRIDES": {
        "AccountStatusEnum": "accounts.models.AccountStatus",
        "RunStatusEnum": "scoring.models.RunStatus",
        "PlanStatusEnum": "plans.models.PlanStatus",
        "ObjectiveStatusEnum": "plans.models.ObjectiveStatus",
        "ActionStatusEnum": "plans.models.ActionStatus",
        "AlertStatusEnum": "accounts.models.AlertStatus",
        "DeliveryStatusEnum": "integrations.models.DeliveryStatus",
        "TierEnum": "accounts.models.Tier",
        "VisitKindEnum": "accounts.models.VisitKind",
        "IssueKindEnum": "accounts.models.IssueKind",
        "AlertKindEnum": "accounts.models.AlertKind",
    },
}


def _api_rate(name: str, default: str) -> str:
    """A throttle rate like 600/min (per second, minute, hour or day); empty turns throttling off."""
    import re

    from django.core.exceptions import ImproperlyConfigured

    value = env(name, default).strip()
    if value and not re.fullmatch(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate like 600/min (or empty for no limit).")
    return value


KAM_API_RATE = _api_rate("KAM_API_RATE", "600/min")  # per API key (or session user)
KAM_API_ANON_RATE = _api_rate("KAM_API_ANON_RATE", "60/min")  # per address, for requests without credentials
KAM_API_MAX_PAGE_SIZE = env_int("KAM_API_MAX_PAGE_SIZE", 1000)
KAM_API_MAX_REQUEST_BYTES = env_int("KAM_API_MAX_REQUEST_BYTES", 5 * 1024 * 1024)  # a 10,000-order batch fits
# Idempotency-Key (kam.api.idempotency): where claims are kept, and how long a key replays its first answer.
KAM_IDEMPOTENCY_MODEL = "integrations.IdempotencyRecord"
KAM_IDEMPOTENCY_HOURS = env_int("KAM_IDEMPOTENCY_HOURS", 24)
KAM_API_BULK_MAX_ROWS = env_int("KAM_API_BULK_MAX_ROWS", 10_000)
KAM_API_WEBHOOK_MAX_ATTEMPTS = env_int("KAM_API_WEBHOOK_MAX_ATTEMPTS", 6)
KAM_API_WEBHOOK_BACKOFF_SECONDS = env_int("KAM_API_WEBHOOK_BACKOFF_SECONDS", 30)  # 30 s, 1, 2, 4, 8 min
KAM_API_WEBHOOK_TIMEOUT_SECONDS = env_int("KAM_API_WEBHOOK_TIMEOUT_SECONDS", 10)
KAM_API_WEBHOOK_BATCH_SIZE = env_int("KAM_API_WEBHOOK_BATCH_SIZE", 500)  # tier changes per delivery
# Deliveries to loopback, private and link-local addresses are refused unless this is on (tests, local demos).
KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("KAM_API_WEBHOOK_ALLOW_PRIVATE_URLS", False)

# --- Celery: with REDIS_URL tasks go to Redis; without it they run in-process (the embedded default) ---
REDIS_URL = env("REDIS_URL", "")
# One cache for every process: sessions, API throttling counts and the dashboard snapshot must be shared by
# all gunicorn workers. Redis when configured (KAM_CACHE_URL, else REDIS_URL), else per-process memory.
# kam.cache.TolerantRedisCache answers as a miss while Redis is unreachable, so a stopped Redis slows pages
# down instead of failing them (sessions fall back to the database, see SESSION_ENGINE).
KAM_CACHE_URL = env("KAM_CACHE_URL", REDIS_URL or "")
CACHES = {
    "default": (
        {
            "BACKEND": "kam.cache.TolerantRedisCache",
            "LOCATION": KAM_CACHE_URL,
            "KEY_PREFIX": "kam",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
        if KAM_CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "kam"}
    )
}
# The portfolio dashboard is computed from the whole portfolio; a snapshot is reused for this long unless a
# new run, an account change or another day makes it stale first (scoring.analytics).
KAM_DASHBOARD_CACHE_SECONDS = env_int("KAM_DASHBOARD_CACHE_SECONDS", 60)

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5, "max_retries": 1}
# Every task lives in an app's tasks.py, which autodiscovery finds: no CELERY_IMPORTS.

_RECOMPUTE_HOUR, _RECOMPUTE_MINUTE = env_time("KAM_RECOMPUTE_AT", "02:00")
_CADENCE_HOUR, _CADENCE_MINUTE = env_time("KAM_CADENCE_CHECK_AT", "05:30")
_REAPER_EVERY_SECONDS = env_int("KAM_REAPER_EVERY_SECONDS", 5 * 60)
_WEBHOOK_REQUEUE_EVERY_SECONDS = env_int("KAM_WEBHOOK_REQUEUE_EVERY_SECONDS", 5 * 60)
CELERY_BEAT_SCHEDULE = {
    "nightly-portfolio-recompute": {
        "task": "scoring.tasks.portfolio_recompute_task",
        "schedule": crontab(hour=_RECOMPUTE_HOUR, minute=_RECOMPUTE_MINUTE),
    },
    # Opens, resolves and escalates alerts, then queues the daily digest emails.
    "nightly-cadence-check": {
        "task": "workspace.tasks.cadence_check_task",
        "schedule": crontab(hour=_CADENCE_HOUR, minute=_CADENCE_MINUTE),
    },
    # Fails the runs whose worker died (queued/running past KAM_RUN_TIME_LIMIT_SECONDS), freeing the lock.
    "scoring-runs-reaper": {
        "task": "scoring.tasks.scoring_runs_reap_task",
        "schedule": _REAPER_EVERY_SECONDS,
    },
    # Fails the imports whose worker died (queued/running past KAM_IMPORT_TIME_LIMIT_SECONDS), freeing the upload.
    "imports-reaper": {
        "task": "dataio.tasks.imports_reap_task",
        "schedule": _REAPER_EVERY_SECONDS,
    },
    # Re-enqueues webhook deliveries whose task was lost (broker down at enqueue, worker killed) or whose
    # retry was left to it (in-process mode makes one attempt per request).
    "webhook-deliveries-requeue": {
        "task": "integrations.tasks.webhook_requeue_stale_task",
        "schedule": _WEBHOOK_REQUEUE_EVERY_SECONDS,
    },
}

# --- The product ---
KAM_CURRENCY = env("KAM_CURRENCY", "EUR")
KAM_ALERT_GRACE_DAYS = env_int("KAM_ALERT_GRACE_DAYS", 14)
KAM_COVERAGE_GAP_DAYS = env_int("KAM_COVERAGE_GAP_DAYS", 180)
# DOMAIN.md: a key account is visited quarterly at worst, whatever its score tier.
KAM_KEY_ACCOUNT_MAX_CADENCE_DAYS = env_int("KAM_KEY_ACCOUNT_MAX_CADENCE_DAYS", 90)
# Where the cadence rule (accounts/cadence.py) reads each tier's default cadence: the active scoring model.
# A dotted path, not an import, because accounts sits below scoring in the floor plan.
KAM_TIER_CADENCE_DEFAULTS = "scoring.selectors.tier_cadence_defaults"
# A recompute is stopped after this long (hard limit; the soft limit comes a little earlier) and the reaper
# marks a run failed once it has been queued or running for longer.
KAM_RUN_TIME_LIMIT_SECONDS = env_int("KAM_RUN_TIME_LIMIT_SECONDS", 30 * 60)
# Imports: an import task is stopped after this long and the reaper fails one queued or running for longer.
KAM_IMPORT_TIME_LIMIT_SECONDS = env_int("KAM_IMPORT_TIME_LIMIT_SECONDS", 60 * 60)
# What an uploaded file may hold, refused before the expensive work: columns (each costs work on every page
# of the import), rows of a workbook, and the bytes a workbook (a zip) unpacks to.
KAM_IMPORT_MAX_COLUMNS = env_int("KAM_IMPORT_MAX_COLUMNS", 200)
KAM_IMPORT_MAX_ROWS = env_int("KAM_IMPORT_MAX_ROWS", 1_000_000)
KAM_IMPORT_MAX_UNPACKED_BYTES = env_int("KAM_IMPORT_MAX_UNPACKED_BYTES", 500 * 1024 * 1024)
# The address links in emails point at.
KAM_SITE_URL = env("KAM_SITE_URL", "http://127.0.0.1:8000")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
