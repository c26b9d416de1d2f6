"""Test settings: fast hashing, in-memory email, and static files served without a manifest."""

from kam.env import env_bool

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
# Serve from the apps' static folders, so tests never depend on a collectstatic run (a fresh clone has none).
WHITENOISE_USE_FINDERS = True
# Per-process memory, emptied before every test (tests/conftest.py): never the Redis the broker uses. The
# resilience stack (tests/resilience) sets KAM_TEST_REDIS_CACHE=1 to keep production's Redis cache, since the
# Redis it stops must be the cache too.
if not env_bool("KAM_TEST_REDIS_CACHE", False):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "kam-tests"}
    }
