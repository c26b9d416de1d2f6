"""Production: no defaults for secrets or hosts, HTTPS everywhere."""

from kam.env import env, env_bool, env_int, env_list

from .base import *  # noqa: F403

SECRET_KEY = env("SECRET_KEY")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("local-only"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY must be a random value of at least 50 characters in production.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
if not ALLOWED_HOSTS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names the app is served on in production.")
DEBUG = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Longer passwords than the local/test minimum, for the people whose accounts hold customer data.
AUTH_PASSWORD_VALIDATORS = [
    {**validator, "OPTIONS": {"min_length": 12}}
    if validator["NAME"].endswith("MinimumLengthValidator")
    else validator
    for validator in AUTH_PASSWORD_VALIDATORS
]
CSRF_COOKIE_HTTPONLY = True
