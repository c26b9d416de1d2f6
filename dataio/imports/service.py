"""The one code path of every import, from the browser, the Celery task and the shell alike.

    import_start()  record the file (name, SHA-256, size, format), refusing what is not CSV text or .xlsx
    import_run()    read in chunks, check every row, then write everything in one transaction, or nothing

A large file goes through a worker, and its record through these states, each step a conditional UPDATE
here (so a step taken twice, or by two workers, happens once):

    uploaded --import_queue()--> queued --import_claim()--> running --import_run()--> succeeded | checked | failed

All or nothing: the checks run over the whole file before anything is written, inside the transaction that
writes, so a problem in the last row leaves the database as it was. Re-importing the same file changes
nothing: every kind upserts by its reference (see each importer for rows without one).
"""

import datetime
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.models import User
from dataio.imports import parsing
from dataio.imports.accounts import AccountImporter
from dataio.imports.base import Importer, Plan, Problems
from dataio.imports.influencers import InfluencerImporter
from dataio.imports.orders import OrderImporter
from dataio.imports.visits import VisitImporter
from dataio.models import ImportKind, ImportMapping, ImportRecord, ImportStatus, ImportUpload
from kam import jobs

log = logging.getLogger(__name__)
IMPORTERS: dict[str, type[Importer]] = {
    ImportKind.ACCOUNTS: AccountImporter,
    ImportKind.ORDERS: OrderImporter,
    ImportKind.INFLUENCERS: InfluencerImporter,
    ImportKind.VISITS: VisitImporter,
}

MAX_BYTES = getattr(settings, "KAM_IMPORT_MAX_BYTES", 200 * 1024 * 1024)
# Above this many rows the browser checks and imports on a Celery task, with a progress bar.
BACKGROUND_ROWS = getattr(settings, "KAM_IMPORT_BACKGROUND_ROWS", 5_000)
PREVIEW_ROWS = 20
IMPORT_TASK = "dataio.tasks.import_run_task"
UNEXPECTED_ERROR = (
    "The import stopped on an error it does not know how to explain, so nothing was written. "
    "The details are in the server log; send the file to an administrator."
)


class ImportQueueUnavailable(Exception):
    """The broker refused the import's job; the record is back to uploaded, so the manager can try again."""

    def __init__(self, record_id: int):
        super().__init__(
            "The job queue is unavailable, so the import could not be started; nothing was written. "
            "Try again in a few minutes; if it persists, ask an administrator to check Redis and the workers."
        )
        self.record_id = record_id


class _Rollback(Exception):  # control flow, not an error
    pass


@dataclass
class ImportResult:
    status: str
    plan: Plan = field(default_factory=Plan)
    problems: list[dict] = field(default_factory=list)
    error_count: int = 0
    rows_total: int = 0
    rows_rejected: int = 0
    info: parsing.FileInfo | None = None
    phase_seconds: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def problems_not_shown(self) -> int:
        return self.error_count - len(self.problems)


def normalise_header(text: str) -> str:
    return "_".join(text.strip().lower().replace("-", " ").replace(".", " ").split())


def auto_mapping(kind: str, headers: list[str], remembered: dict | None = None) -> dict[str, str]:
    """Field -> column: the column named like the field (any case, spaces for underscores), else the one
    this user mapped last time, if the file has it."""
    by_name = {normalise_header(h): h for h in headers}
    mapping = {}
    for name in IMPORTERS[kind].field_names():
        if name in by_name:
            mapping[name] = by_name[name]
        elif remembered and remembered.get(name) in headers:
            mapping[name] = remembered[name]
    return mapping


def remembered_mapping(*, user: User | None, kind: str) -> dict:
    if user is None:
        return {}
    row = ImportMapping.objects.filter(user=user, kind=kind).first()
    return row.mapping if row else {}


def mapping_remember(*, user: User, kind: str, mapping: dict) -> None:
    ImportMapping.objects.update_or_create(user=user, kind=kind, defaults={"mapping": mapping})


def import_start(
    *,
    kind: str,
    user: User | None,
    file_name: str,
    content: bytes,
    source: str = "browser",
    options: dict | None = None,
    keep_upload: bool = True,
    max_bytes: int | None = MAX_BYTES,
) -> tuple[ImportRecord, list[str]]:
    """Record an uploaded file; returns the record and the file's column headers.

    Raises parsing.ImportFileError with a message for the person when the file cannot be imported at all
    (too large, empty, not CSV text nor .xlsx, unreadable encoding, no header).
    """
    if kind not in IMPORTERS:
        raise parsing.ImportFileError(f"Unknown kind of import: {kind}.")
    if max_bytes is not None and len(content) > max_bytes:
        raise parsing.ImportFileError(
            f"The file is {len(content) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB. "
            "Split it, or import it from the shell."
        )
    options = {k: v for k, v in (options or {}).items() if v}
    info = parsing.inspect(content, **options)
    headers = parsing.read_headers(content, info)
    if not headers:
        raise parsing.ImportFileError("The file has no header row: the first line must name the columns.")
    with transaction.atomic():
        record = ImportRecord.objects.create(
            kind=kind,
            created_by=user,
            source=source,
            file_name=file_name[:255],
            file_format=info.format,
            size_bytes=len(content),
            checksum=hashlib.sha256(content).hexdigest(),
            options=options,
            mapping=auto_mapping(kind, headers, remembered_mapping(user=user, kind=kind)),
            rows_total=parsing.estimate_rows(content, info),
        )
        if keep_upload:
            ImportUpload.objects.create(record=record, content=content)
    return record, headers


def missing_required(kind: str, mapping: dict, headers: list[str]) -> list[str]:
    return [name for name in IMPORTERS[kind].required() if mapping.get(name) not in headers]


def mapped_frame(frame, mapping: dict, importer: type[Importer]):
    """The chunk with one column per field of the kind (empty where the file has no column for it)."""
    out = frame[["_row"]].copy()
    for name in importer.field_names():
        column = mapping.get(name)
        out[name] = frame[column] if column in frame.columns else ""
    return out


# --- The background states ----------------------------------------------------------------------------------


def import_queue(*, record: ImportRecord) -> bool:
    """uploaded -> queued, handed to a worker once the request commits; False if it was queued already.

    If the broker refuses the job, the record goes back to uploaded so the manager can try again instead of
    watching a stalled progress bar, and ImportQueueUnavailable says so (raised here outside a transaction,
    else when the outermost block commits).
    """
    queued = ImportRecord.objects.filter(pk=record.pk, status=ImportStatus.UPLOADED).update(
        status=ImportStatus.QUEUED, updated_at=timezone.now()
    )
    if queued:
        transaction.on_commit(lambda: _send(record.pk))
    return bool(queued)


def _send(record_id: int) -> None:
    try:
        jobs.enqueue(IMPORT_TASK, record_id)
    except jobs.BROKER_ERRORS as exc:
        log.error("Could not queue import %s, putting it back to uploaded: %s", record_id, exc)
        ImportRecord.objects.filter(pk=record_id, status=ImportStatus.QUEUED).update(
            status=ImportStatus.UPLOADED, updated_at=timezone.now()
        )
        raise ImportQueueUnavailable(record_id) from exc


def import_claim(*, record_id: int) -> ImportRecord | None:
    """queued -> running for the one worker that gets there first; None for any other (or a second delivery)."""
    now = timezone.now()
    claimed = ImportRecord.objects.filter(pk=record_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=now, updated_at=now
    )
    return ImportRecord.objects.select_related("created_by").get(pk=record_id) if claimed else None


def import_fail(*, record: ImportRecord, message: str) -> None:
    """running -> failed without a result (the upload is gone), with the reason as the one error."""
    record.status = ImportStatus.FAILED
    record.errors = [{"row": 0, "column": "", "value": "", "message": message}]
    record.error_count = 1
    record.finished_at = timezone.now()
    record.save()
    ImportUpload.objects.filter(record=record).delete()


def imports_reap(*, now: datetime.datetime | None = None) -> int:
    """Fail the imports stuck queued or running longer than KAM_IMPORT_TIME_LIMIT_SECONDS, dropping their upload.

    An import can only be stuck that long if its worker died (killed, out of memory) or no worker listens:
    the task is stopped at the time limit, and its transaction never committed, so nothing was written.
    Conditional UPDATEs: safe to run twice, and an import that finishes at the same moment keeps its result.
    Returns how many imports were reaped.
    """
    now = now or timezone.now()
    limit = settings.KAM_IMPORT_TIME_LIMIT_SECONDS
    cutoff = now - datetime.timedelta(seconds=limit)
    within = f"{limit // 60} minutes" if limit >= 120 else f"{limit} seconds"
    reasons = {
        ImportStatus.RUNNING: (
            "started_at__lt",
            f"The import did not finish within {within}; its worker was probably stopped or killed. "
            "Nothing was written: upload the file again.",
        ),
        ImportStatus.QUEUED: (
            "updated_at__lt",
            f"No worker picked the import up within {within}. Nothing was written: upload the file again "
            "once a Celery worker is running.",
        ),
    }
    reaped = 0
    for status, (since, message) in reasons.items():
        stuck = list(
            ImportRecord.objects.filter(status=status, **{since: cutoff}).values_list("pk", flat=True)
        )
        reaped += ImportRecord.objects.filter(pk__in=stuck, status=status).update(
            status=ImportStatus.FAILED,
            errors=[{"row": 0, "column": "", "value": "", "message": message}],
            error_count=1,
            finished_at=now,
            updated_at=now,
        )
        ImportUpload.objects.filter(record_id__in=stuck, record__status=ImportStatus.FAILED).delete()
    if reaped:
        log.warning("Reaped %s stuck import(s)", reaped)
    return reaped


def import_run(
    *,
    record: ImportRecord,
    content: bytes,
    dry_run: bool = False,
    max_rows: int | None = None,
    progress: Callable[[int], None] | None = None,
    save: bool = True,
) -> ImportResult:
    """Check the whole file (or its first `max_rows` rows), then write it all in one transaction, or nothing.

    `dry_run` checks and counts what would change without writing. With `save` the record gets the outcome.
    """
    importer_class = IMPORTERS[record.kind]
    user = record.created_by
    result = ImportResult(status=ImportStatus.FAILED)
    started = timezone.now()
    try:
        info = parsing.inspect(content, **record.options)
        result.info = info
        headers = parsing.read_headers(content, info)
        mapped = {name for name, column in record.mapping.items() if column in headers}
        importer = importer_class(
            user=user, today=timezone.localdate(), delimiter=info.delimiter, mapped=mapped
        )
        missing = missing_required(record.kind, record.mapping, headers)
        for name in missing:
            importer.problems.add(
                1, name, f"The required column {name} is missing: map a column of the file to it."
            )
        if not missing:
            _check_and_write(
                importer, importer_class, record, content, info, dry_run, max_rows, progress, result
            )
        problems = importer.problems
    except parsing.ImportFileError as exc:
        problems = Problems()
        problems.add(0, "", str(exc))
    except DatabaseError as exc:
        # A constraint the checks did not foresee: the transaction rolled back, so nothing was written.
        problems = Problems()
        problems.add(0, "", f"The database refused the import, nothing was written: {exc}".strip())
    except Exception:
        # Whatever else a hostile file finds: the transaction rolled back, and the record must still end
        # (a record left running can neither be committed again nor discarded, and holds its upload).
        log.exception(
            "Import %s (%s, %s) failed on an unexpected error", record.pk, record.kind, record.file_name
        )
        problems = Problems()
        problems.add(0, "", UNEXPECTED_ERROR)
    result.problems = problems.sorted()
    result.error_count = problems.count
    result.rows_rejected = len({r for r in problems.rows if r >= parsing.FIRST_DATA_ROW})
    if problems:
        result.status, result.plan = ImportStatus.FAILED, Plan()
    else:
        result.status = ImportStatus.CHECKED if dry_run else ImportStatus.SUCCEEDED
    if save:
        _save(record, result, dry_run=dry_run, started=started)
    return result


def _check_and_write(importer, importer_class, record, content, info, dry_run, max_rows, progress, result):
    clock = _Clock(result.phase_seconds)
    try:
        with transaction.atomic():
            importer.setup()
            try:
                chunk_rows = min(max_rows or 10**9, parsing.CHUNK_ROWS)
                for chunk in parsing.iter_chunks(content, info, chunk_rows=chunk_rows):
                    if max_rows is not None:
                        chunk = chunk.iloc[: max(max_rows - result.rows_total, 0)]
                    if chunk.empty:
                        break
                    importer.check(mapped_frame(chunk, record.mapping, importer_class))
                    result.rows_total += len(chunk)
                    if progress:
                        progress(result.rows_total)
                clock.lap("read_and_check")
                if result.rows_total == 0:
                    importer.problems.add(0, "", "The file has no rows under its header.")
                importer.finish()
                clock.lap("whole_file_checks")
                if importer.problems:
                    raise _Rollback
                result.plan = importer.plan() if dry_run else importer.write()
                clock.lap("plan" if dry_run else "write")
                if dry_run:
                    raise _Rollback
            finally:
                importer.teardown()
        clock.lap("commit")
    except _Rollback:
        pass


class _Clock:
    def __init__(self, laps: dict):
        self.laps = laps
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.last, 3)
        self.last = now


def _save(record: ImportRecord, result: ImportResult, *, dry_run: bool, started: datetime.datetime) -> None:
    record.status = result.status
    record.dry_run = dry_run
    record.rows_total = result.rows_total
    record.rows_created = result.plan.created
    record.rows_updated = result.plan.updated
    record.rows_unchanged = result.plan.unchanged
    record.rows_rejected = result.rows_rejected
    record.error_count = result.error_count
    record.errors = result.problems[:200]
    record.started_at = record.started_at or started
    record.finished_at = timezone.now()
    record.save()
    # The file's bytes were only kept to be imported.
    ImportUpload.objects.filter(record=record).delete()
