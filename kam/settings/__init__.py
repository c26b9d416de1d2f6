"""Pick the settings module from DJANGO_ENV (local, test or production)."""

import os

_ENV = os.environ.get("DJANGO_ENV", "local").strip()

if _ENV == "production":
    from .production import *  # noqa: F403
elif _ENV == "test":
    from .test import *  # noqa: F403
elif _ENV == "local":
    from .local import *  # noqa: F403
else:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"DJANGO_ENV={_ENV!r} must be one of: local, test, production.")
