"""Production settings: `manage.py check --deploy` is clean, and the production-only rules hold."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def production_env(**extra: str) -> dict:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "DEBUG", "SESSION_COOKIE_AGE")
    }
    environment.update(
        DJANGO_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="kam.example.com",
        **extra,
    )
    return environment


def run_manage(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own manage.py with fixed arguments)
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=production_env(**extra_env),
        capture_output=True,
        text=True,
        check=False,
    )


def production_settings(*names: str, **extra_env: str) -> dict:
    code = (
        "import json, os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'kam.settings'; django.setup();"
        "from django.conf import settings;"
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))"
    )
    result = subprocess.run(  # noqa: S603 (our own code, run in a fresh interpreter)
        [sys.executable, "-c", code],
        cwd=PROJECT,
        env=production_env(**extra_env),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_settings_pass_the_deploy_check_without_a_warning():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output


def test_the_deploy_check_notices_when_https_is_switched_off():
    """The test above can fail: turning HSTS and the HTTPS redirect off is reported."""
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", SECURE_HSTS_SECONDS="0", SECURE_SSL_REDIRECT="false"
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "security.W004" in output
    assert "security.W008" in output


def test_production_cookies_are_https_only_and_hsts_is_a_year_by_default():
    values = production_settings(
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "X_FRAME_OPTIONS",
        "SECURE_REFERRER_POLICY",
        "DEBUG",
    )
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_REFERRER_POLICY": "same-origin",
        "DEBUG": False,
    }


def test_hsts_and_session_age_follow_the_environment():
    values = production_settings(
        "SECURE_HSTS_SECONDS", "SESSION_COOKIE_AGE", SECURE_HSTS_SECONDS="600", SESSION_COOKIE_AGE="3600"
    )
    assert values == {"SECURE_HSTS_SECONDS": 600, "SESSION_COOKIE_AGE": 3600}


@pytest.mark.parametrize(
    ("password", "accepted"), [("short-pass1", False), ("Eleven-char", False), ("a-long-enough-pass", True)]
)
def test_production_asks_for_passwords_of_at_least_twelve_characters(password, accepted):
    code = (
        "import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'kam.settings'; django.setup();"
        "from django.contrib.auth.password_validation import validate_password;"
        "from django.core.exceptions import ValidationError\n"
        "try:\n"
        f"    validate_password({password!r}); print('ok')\n"
        "except ValidationError as error:\n"
        "    print(' '.join(error.messages))"
    )
    result = subprocess.run(  # noqa: S603 (our own code, run in a fresh interpreter)
        [sys.executable, "-c", code], cwd=PROJECT, env=production_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    if accepted:
        assert result.stdout.strip() == "ok"
    else:
        assert "at least 12 characters" in result.stdout
