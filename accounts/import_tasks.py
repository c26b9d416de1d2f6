"""Celery entry point for imports: claim the record, run the import service on the stored upload."""

from celery import shared_task
from django.utils import timezone

from accounts.imports import progress
from accounts.imports.service import import_run
from accounts.models import ImportRecord, ImportStatus, ImportUpload


@shared_task(acks_late=True, ignore_result=True)
def import_run_task(record_id: int) -> str:
    """Import a queued upload, all or nothing. Safe to run twice: only the run that claims the record works."""
    claimed = ImportRecord.objects.filter(pk=record_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now(), updated_at=timezone.now()
    )
    if not claimed:
        return "not queued"
    record = ImportRecord.objects.select_related("created_by").get(pk=record_id)
    upload = ImportUpload.objects.filter(record=record).first()
    if upload is None:
        record.status = ImportStatus.FAILED
        record.errors = [
            {"row": 0, "column": "", "value": "", "message": "The uploaded file is gone: upload it again."}
        ]
        record.error_count = 1
        record.finished_at = timezone.now()
        record.save()
        return record.status
    result = import_run(record=record, content=bytes(upload.content), progress=progress.reporter(record_id))
    return result.status
