"""Celery entry point for imports: claim the record, run the import service on the stored upload."""

from celery import shared_task
from django.conf import settings

from dataio.imports import progress
from dataio.imports.service import import_claim, import_fail, import_run, imports_reap
from dataio.models import ImportUpload
from kam.jobs import RETRY, forward_old_name


# Stopped at the time limit (its transaction rolls back); the reaper then fails the record.
@shared_task(acks_late=True, ignore_result=True, time_limit=settings.KAM_IMPORT_TIME_LIMIT_SECONDS)
def import_run_task(record_id: int) -> str:
    """Import a queued upload, all or nothing. Safe to run twice: only the run that claims the record works."""
    record = import_claim(record_id=record_id)
    if record is None:
        return "not queued"
    upload = ImportUpload.objects.filter(record=record).first()
    if upload is None:
        import_fail(record=record, message="The uploaded file is gone: upload it again.")
        return record.status
    result = import_run(record=record, content=bytes(upload.content), progress=progress.reporter(record_id))
    return result.status


@shared_task(acks_late=True, **RETRY)
def imports_reap_task() -> int:
    """Fail the imports whose worker died, dropping their upload (beat runs this every few minutes)."""
    return imports_reap()


# Queued before the task moved out of the accounts app (December 2026); remove after the next release.
forward_old_name("accounts.import_tasks.import_run_task", "dataio.tasks.import_run_task")
