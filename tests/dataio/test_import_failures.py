"""Every import ends: a file the checks did not foresee, a worker that died or a job queue that is down
leaves the record failed (or back to uploaded) with a message, never running for ever, and writes nothing."""

import datetime
import io
from unittest import mock

import kombu.exceptions
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Order
from dataio.imports import parsing
from dataio.imports.service import UNEXPECTED_ERROR, imports_reap
from dataio.models import ImportRecord, ImportStatus, ImportUpload
from dataio.tasks import import_run_task
from tests.fixtures.imports import counts

pytestmark = pytest.mark.django_db


def upload(client, kind: str, name: str, content: bytes):
    data = {"kind": kind, "file": SimpleUploadedFile(name, content), "delimiter": "", "encoding": ""}
    return client.post(reverse("imports:index"), data)


def commit(client, record, capture):
    with capture(execute=True):  # the task is queued once the request commits
        return client.post(reverse("imports:commit", args=[record.pk]))


@pytest.mark.usefixtures("postgres", "eager_celery")
def test_a_negative_year_ends_the_import_failed_with_the_row_named(
    world, client, django_capture_on_commit_callbacks
):
    # PostgreSQL refused "-2026-01-01" with an error the task did not expect, leaving the record running.
    Account.objects.filter(pk=world.rep_account.pk).update(reference="C-1")
    client.force_login(world.manager)
    upload(
        client, "orders", "o.csv", b"account_reference,date,revenue\nC-1,2025-01-01,5\nC-1,-2026-01-01,5\n"
    )
    record = ImportRecord.objects.get()
    preview = client.get(reverse("imports:preview", args=[record.pk])).content.decode()
    assert "-2026-01-01 is not a date: write it as YYYY-MM-DD." in preview
    commit(client, record, django_capture_on_commit_callbacks)
    record.refresh_from_db()
    assert (record.status, record.errors[0]["row"]) == (ImportStatus.FAILED, 3)
    assert Order.objects.count() == 0
    assert not ImportUpload.objects.exists()


def test_a_nul_byte_past_the_first_64_kb_is_refused_at_upload(world, client):
    client.force_login(world.manager)
    rows = "".join(f"N-{i},Name {i}\n" for i in range(8000)).encode()
    response = upload(client, "accounts", "a.csv", b"reference,name\n" + rows + b"N-X,Bad\x00\n")
    assert response.status_code == 200
    assert "Line 8002 contains a NUL character (a zero byte)" in response.content.decode()
    assert not ImportRecord.objects.exists()


@pytest.mark.usefixtures("eager_celery")
def test_an_unforeseen_error_ends_the_import_failed_logged_and_writing_nothing(
    world, client, django_capture_on_commit_callbacks, caplog
):
    client.force_login(world.manager)
    upload(client, "accounts", "a.csv", b"reference,name\nU-1,One\n")
    record = ImportRecord.objects.get()
    before = counts()
    with mock.patch.object(parsing, "strip_text", side_effect=RuntimeError("something nobody foresaw")):
        preview = client.get(reverse("imports:preview", args=[record.pk]))
        assert preview.status_code == 200
        assert UNEXPECTED_ERROR in preview.content.decode()
        commit(client, record, django_capture_on_commit_callbacks)
    record.refresh_from_db()
    assert (record.status, record.errors[0]["message"]) == (ImportStatus.FAILED, UNEXPECTED_ERROR)
    assert not ImportUpload.objects.exists()  # the upload is not held
    assert counts() == before
    assert "something nobody foresaw" in caplog.text  # the traceback is in the log
    detail = client.get(reverse("imports:detail", args=[record.pk])).content.decode()
    assert "nothing was written" in detail


# Autocommit, as in production: the job is sent inside the request, when the record is queued.
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("queued_celery")
def test_committing_while_the_job_queue_is_down_says_so_and_changes_nothing(world, client):
    client.force_login(world.manager)
    upload(client, "accounts", "a.csv", b"reference,name\nQ-1,One\n")
    record = ImportRecord.objects.get()
    refused = kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with mock.patch.object(import_run_task, "delay", side_effect=refused):
        response = client.post(reverse("imports:commit", args=[record.pk]))
    assert response["Location"] == reverse("imports:preview", args=[record.pk])
    page = client.get(response["Location"]).content.decode()
    assert "The job queue is unavailable, so the import could not be started" in page
    record.refresh_from_db()
    assert record.status == ImportStatus.UPLOADED  # it can be committed again
    assert ImportUpload.objects.filter(record=record).exists()
    assert not Account.objects.filter(reference="Q-1").exists()


def stuck(world, status, *, minutes_ago: int):
    then = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    record = ImportRecord.objects.create(
        kind="accounts", created_by=world.manager, file_name=f"{status}.csv", checksum="0" * 64
    )
    ImportUpload.objects.create(record=record, content=b"reference,name\nS-1,One\n")
    ImportRecord.objects.filter(pk=record.pk).update(status=status, started_at=then, updated_at=then)
    return record


def test_imports_stuck_past_the_time_limit_are_reaped_and_free_their_upload(world):
    limit = settings.KAM_IMPORT_TIME_LIMIT_SECONDS // 60
    dead = stuck(world, ImportStatus.RUNNING, minutes_ago=limit + 1)
    lost = stuck(world, ImportStatus.QUEUED, minutes_ago=limit + 1)
    working = stuck(world, ImportStatus.RUNNING, minutes_ago=limit - 1)
    assert imports_reap() == 2
    assert imports_reap() == 0  # safe to run twice
    dead.refresh_from_db(), lost.refresh_from_db(), working.refresh_from_db()
    assert (dead.status, lost.status, working.status) == ("failed", "failed", "running")
    assert "did not finish within 60 minutes" in dead.errors[0]["message"]
    assert "No worker picked the import up" in lost.errors[0]["message"]
    assert list(ImportUpload.objects.values_list("record_id", flat=True)) == [working.pk]


def test_the_reaper_runs_from_beat_and_from_cron(world):
    assert settings.CELERY_BEAT_SCHEDULE["imports-reaper"]["task"] == "dataio.tasks.imports_reap_task"
    dead = stuck(world, ImportStatus.RUNNING, minutes_ago=24 * 60)
    out = io.StringIO()
    call_command("reap_imports", stdout=out)
    assert out.getvalue().strip() == "Reaped 1 stuck import."
    dead.refresh_from_db()
    assert dead.status == ImportStatus.FAILED


def test_thousands_of_problems_are_capped_and_say_how_many_more(world, client):
    client.force_login(world.manager)
    rows = "".join(f"T-{i},Name {i},9\n" for i in range(3000)).encode()
    upload(client, "accounts", "a.csv", b"reference,name,image_rating\n" + rows)
    record = ImportRecord.objects.get()
    preview = client.get(reverse("imports:preview", args=[record.pk])).content.decode()
    assert "3000 problems in 3000 rows" in preview
    assert "Showing the first 1000; 2000 more not shown." in preview
    assert not Account.objects.filter(reference__startswith="T-").exists()
