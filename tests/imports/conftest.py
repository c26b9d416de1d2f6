"""Helpers for the import tests: files as bytes, and one call through the service the browser uses."""

import io

import pytest

from dataio.imports.service import import_run, import_start
from kam.celery import app as celery_app


def csv_bytes(text: str, *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    return text.replace(",", delimiter).encode(encoding) if delimiter != "," else text.encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def run(
    kind: str, content: bytes | str, *, user=None, dry_run: bool = False, name: str = "file.csv", **options
):
    """Record and import a file as the browser and the shell do; returns (record, result)."""
    if isinstance(content, str):
        content = content.encode()
    record, _ = import_start(kind=kind, user=user, file_name=name, content=content, options=options)
    result = import_run(record=record, content=content, dry_run=dry_run)
    record.refresh_from_db()
    return record, result


def messages(result) -> list[tuple[int, str, str]]:
    return [(p["row"], p["column"], p["message"]) for p in result.problems]


@pytest.fixture
def eager_celery():
    """Tasks run in-process, as without REDIS_URL, whatever the environment says."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous
