"""Read settings from the environment, failing loudly on values that do not parse.

A typo in production configuration must stop the process at start-up with a message
naming the variable, never fall back silently to a default.
"""

import os
from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class _Missing:
    pass


MISSING = _Missing()


def env(name: str, default: str | _Missing = MISSING) -> str:
    value = os.environ.get(name)
    if value is None:
        if isinstance(default, _Missing):
            raise ImproperlyConfigured(f"The environment variable {name} is required.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true/false, yes/no, on/off or 1/0.")


def _parse(name: str, default: T, convert: Callable[[str], T], kind: str) -> T:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return convert(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not {kind}.") from None


def env_int(name: str, default: int) -> int:
    return _parse(name, default, int, "an integer")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env(name, default).strip()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}.")
    return value


def env_time(name: str, default: str) -> tuple[int, int]:
    """An HH:MM time of day, e.g. for the nightly job schedule."""

    def convert(raw: str) -> tuple[int, int]:
        hours, _, minutes = raw.partition(":")
        hour, minute = int(hours), int(minutes or 0)
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError
        return hour, minute

    return _parse(name, convert(default), convert, "a time of day as HH:MM")
