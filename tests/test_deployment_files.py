"""docker-compose.yml and the Dockerfile must point at modules and commands that exist."""

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
