"""docker-compose.yml and the Dockerfile must point at modules and commands that exist."""

import gc
import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_compose_commands_point_at_existing_modules():
    compose = (ROOT / "docker-compose.yml").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    for target in set(re.findall(r"([\w.]+):application", compose + dockerfile)):
        module = importlib.import_module(target)
        assert hasattr(module, "application"), target
    for app in set(re.findall(r'"-A", "(\w+)"', compose)):
        assert hasattr(importlib.import_module(app), "celery_app"), app
    assert "manage.py" in compose
    assert (ROOT / "manage.py").exists()


def test_healthcheck_url_is_routed(client, db):
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "/healthz" in compose
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_gunicorn_workers_freeze_what_they_loaded(monkeypatch):
    """gunicorn.conf.py, read the way gunicorn reads it, takes a worker's loaded objects out of the collector."""
    from gunicorn.app.wsgiapp import WSGIApplication

    monkeypatch.setattr("sys.argv", ["gunicorn", "kam.wsgi:application"])
    server = WSGIApplication()  # loads ./gunicorn.conf.py from the working directory, as gunicorn does
    server.load_config_from_file(str(ROOT / "gunicorn.conf.py"))
    assert server.cfg.post_worker_init.__module__ != "gunicorn.config"  # ours, not gunicorn's no-op default
    frozen = gc.get_freeze_count()
    try:
        server.cfg.post_worker_init(None)
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
