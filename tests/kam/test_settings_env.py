import pytest
from django.core.exceptions import ImproperlyConfigured

from kam import env


def test_bad_boolean_fails_loudly(monkeypatch):
    monkeypatch.setenv("KAM_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="KAM_FLAG='maybe' is not a boolean"):
        env.env_bool("KAM_FLAG", False)


def test_bad_integer_fails_loudly(monkeypatch):
    monkeypatch.setenv("KAM_N", "12x")
    with pytest.raises(ImproperlyConfigured, match="KAM_N='12x' is not an integer"):
        env.env_int("KAM_N", 1)


def test_required_value_missing_fails_loudly(monkeypatch):
    monkeypatch.delenv("KAM_SECRET", raising=False)
    with pytest.raises(ImproperlyConfigured, match="KAM_SECRET is required"):
        env.env("KAM_SECRET")


def test_time_of_day_is_parsed_and_checked(monkeypatch):
    monkeypatch.setenv("KAM_AT", "02:30")
    assert env.env_time("KAM_AT", "01:00") == (2, 30)
    monkeypatch.setenv("KAM_AT", "25:00")
    with pytest.raises(ImproperlyConfigured, match="HH:MM"):
        env.env_time("KAM_AT", "01:00")


def test_lists_and_defaults(monkeypatch):
    monkeypatch.setenv("KAM_HOSTS", "a.example, b.example,")
    assert env.env_list("KAM_HOSTS", []) == ["a.example", "b.example"]
    monkeypatch.delenv("KAM_MISSING_INT", raising=False)
    assert env.env_int("KAM_MISSING_INT", 7) == 7


def test_production_settings_refuse_to_start_without_secret_key():
    import os
    import subprocess
    import sys

    environment = {**os.environ, "DJANGO_ENV": "production", "ALLOWED_HOSTS": "kam.example.com"}
    environment.pop("SECRET_KEY", None)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='kam.settings'; django.setup()",
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr
