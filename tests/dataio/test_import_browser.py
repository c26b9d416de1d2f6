"""The browser flow for managers: upload -> map -> preview -> commit (on the Celery task, eagerly here)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Account, Order
from dataio.models import ImportMapping, ImportRecord, ImportStatus, ImportUpload
from tests.factories import AccountFactory
from tests.fixtures.imports import xlsx_bytes

pytestmark = pytest.mark.django_db


def upload(client, kind: str, name: str, content: bytes, **extra):
    data = {"kind": kind, "file": SimpleUploadedFile(name, content), "delimiter": "", "encoding": ""} | extra
    return client.post(reverse("imports:index"), data)


def test_manager_imports_accounts_through_upload_map_preview_commit(
    world, client, eager_celery, django_capture_on_commit_callbacks
):
    client.force_login(world.manager)
    content = b"Ref;Company;Region\nB-1;Bakery One;North\nB-2;Bakery Two;South\n"
    response = upload(client, "accounts", "crm.csv", content)
    record = ImportRecord.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("imports:map", args=[record.pk])

    page = client.get(reverse("imports:map", args=[record.pk])).content.decode()
    assert "CSV, UTF-8, semicolon" in page
    response = client.post(
        reverse("imports:map", args=[record.pk]), {"reference": "Ref", "name": "Company", "region": "Region"}
    )
    assert response["Location"] == reverse("imports:preview", args=[record.pk])

    preview = client.get(reverse("imports:preview", args=[record.pk])).content.decode()
    assert "No problems found. Importing will create 2, update 0" in preview
    assert "Bakery Two" in preview
    assert not Account.objects.filter(reference__startswith="B-").exists()  # a preview writes nothing

    with django_capture_on_commit_callbacks(execute=True):  # the task is queued once the request commits
        response = client.post(reverse("imports:commit", args=[record.pk]))
    assert response["Location"] == reverse("imports:detail", args=[record.pk])
    record.refresh_from_db()
    assert (record.status, record.rows_created) == (ImportStatus.SUCCEEDED, 2)
    assert Account.objects.get(reference="B-2").region == "South"
    assert not ImportUpload.objects.exists()  # the bytes are gone once imported
    detail = client.get(reverse("imports:detail", args=[record.pk])).content.decode()
    assert "2 rows: 2 created, 0 updated, 0 unchanged." in detail


def test_the_last_mapping_is_remembered(world, client):
    client.force_login(world.manager)
    upload(client, "accounts", "a.csv", b"Ref,Company\nB-1,One\n")
    first = ImportRecord.objects.get()
    client.post(reverse("imports:map", args=[first.pk]), {"reference": "Ref", "name": "Company"})
    assert ImportMapping.objects.get(user=world.manager, kind="accounts").mapping == {
        "reference": "Ref",
        "name": "Company",
    }
    upload(client, "accounts", "b.csv", b"Ref,Company\nB-2,Two\n")
    second = ImportRecord.objects.latest("id")
    assert second.mapping == {"reference": "Ref", "name": "Company"}
    page = client.get(reverse("imports:map", args=[second.pk])).content.decode()
    assert '<option value="Company" selected>' in page


def test_preview_lists_every_problem_and_commit_of_a_broken_file_writes_nothing(
    world, client, eager_celery, django_capture_on_commit_callbacks
):
    AccountFactory(reference="C-1", owner=world.rep)
    client.force_login(world.manager)
    content = b"account_reference,date,revenue\nC-1,2025-01-01,10\nC-9,2025-01-02,-3\n"
    upload(client, "orders", "orders.csv", content)
    record = ImportRecord.objects.get()
    preview = client.get(reverse("imports:preview", args=[record.pk])).content.decode()
    assert "2 problems in 1 row" in preview
    assert "No account with reference C-9." in preview
    assert "-3 is negative: amounts must be 0 or more." in preview
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("imports:commit", args=[record.pk]))
    record.refresh_from_db()
    assert (record.status, record.error_count, record.rows_rejected) == ("failed", 2, 1)
    assert Order.objects.count() == 0
    detail = client.get(reverse("imports:detail", args=[record.pk])).content.decode()
    assert "nothing was written" in detail
    assert "No account with reference C-9." in detail


def test_an_excel_upload_works_and_files_are_judged_by_content(world, client):
    client.force_login(world.manager)
    response = upload(client, "accounts", "accounts.xlsx", b"this is not a workbook \x00\x01")
    assert response.status_code == 200
    assert "not text (CSV) nor an Excel workbook" in response.content.decode()
    assert not ImportRecord.objects.exists()
    response = upload(
        client, "accounts", "accounts.xlsx", xlsx_bytes([["reference", "name"], ["X-1", "Excel Co"]])
    )
    record = ImportRecord.objects.get()
    assert (response.status_code, record.file_format) == (302, "xlsx")


def test_the_size_limit_is_a_clear_form_error(world, client, monkeypatch):
    from dataio import views as views_imports

    monkeypatch.setattr(views_imports, "MAX_BYTES", 10)
    client.force_login(world.manager)
    response = upload(client, "accounts", "a.csv", b"reference,name\nA,B\n")
    assert "the limit is" in response.content.decode()
    assert not ImportRecord.objects.exists()


@pytest.mark.parametrize(("role", "expected"), [("rep", 403), ("integration", 403), ("anonymous", 302)])
def test_only_managers_import(world, client, role, expected):
    if role != "anonymous":
        client.force_login(getattr(world, role))
    assert client.get(reverse("imports:index")).status_code == expected
    assert upload(client, "accounts", "a.csv", b"reference,name\nA-1,B\n").status_code == expected
    assert not ImportRecord.objects.exists()


def test_a_manager_cannot_drive_another_managers_upload(world, client):
    from tests.factories import UserFactory

    client.force_login(world.manager)
    upload(client, "accounts", "a.csv", b"reference,name\nA-1,B\n")
    record = ImportRecord.objects.get()
    client.force_login(UserFactory(username="manager2", role="manager"))
    assert client.get(reverse("imports:preview", args=[record.pk])).status_code == 404
    assert client.post(reverse("imports:commit", args=[record.pk])).status_code == 404
    assert client.get(reverse("imports:detail", args=[record.pk])).status_code == 200  # the log is shared


def test_progress_is_polled_while_the_import_runs(world, client):
    client.force_login(world.manager)
    upload(client, "accounts", "a.csv", b"reference,name\nA-1,B\n")
    record = ImportRecord.objects.get()
    ImportRecord.objects.filter(pk=record.pk).update(status=ImportStatus.RUNNING)
    fragment = client.get(
        reverse("imports:detail", args=[record.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'hx-trigger="every 1s"' in fragment
    assert "<progress" in fragment
    assert "<html" not in fragment
    ImportRecord.objects.filter(pk=record.pk).update(status=ImportStatus.SUCCEEDED)
    fragment = client.get(
        reverse("imports:detail", args=[record.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "hx-trigger" not in fragment  # finished: polling stops


def test_the_task_runs_once_however_often_it_is_delivered(world, client, eager_celery):
    from dataio.tasks import import_run_task

    AccountFactory(reference="C-1", owner=world.rep)
    client.force_login(world.manager)
    upload(client, "orders", "o.csv", b"account_reference,date,revenue,reference\nC-1,2025-01-01,10,SO-1\n")
    record = ImportRecord.objects.get()
    ImportRecord.objects.filter(pk=record.pk).update(status=ImportStatus.QUEUED)
    assert import_run_task.delay(record.pk).get() == "succeeded"
    assert import_run_task.delay(record.pk).get() == "not queued"
    assert Order.objects.count() == 1


def test_navigation_links_to_imports_for_managers_only(world, client):
    client.force_login(world.manager)
    assert f'href="{reverse("imports:index")}"' in client.get(reverse("home")).content.decode()
    client.force_login(world.rep)
    assert f'href="{reverse("imports:index")}"' not in client.get(reverse("home")).content.decode()
