"""Serve browser libraries straight from the Python packages that ship them.

We never load from a CDN and never commit a copy of third-party assets; this finder exposes exactly the
files we use (plotly's bundled JavaScript) under `vendor/`, so `collectstatic` and whitenoise treat them like
our own static files. (htmx comes from django-htmx's own static folder through the app-directories finder.)
"""

from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.contrib.staticfiles.utils import matches_patterns
from django.core.files.storage import FileSystemStorage

PREFIX = "vendor"


def _assets() -> dict[str, Path]:
    import plotly

    return {"plotly.min.js": Path(plotly.__file__).parent / "package_data" / "plotly.min.js"}


class PackagedAssetsFinder(BaseFinder):
    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        prefix, _, name = path.partition("/")
        source = _assets().get(name) if prefix == PREFIX else None
        if source is None or not source.exists():
            return [] if find_all else None
        return [str(source)] if find_all else str(source)

    def list(self, ignore_patterns):
        for name, source in _assets().items():
            if source.exists() and not matches_patterns(name, ignore_patterns or []):
                storage = FileSystemStorage(location=str(source.parent))
                storage.prefix = PREFIX
                yield name, storage
