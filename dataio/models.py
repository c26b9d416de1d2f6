"""Data in and out: every file brought in is recorded, with the column mapping each manager last used."""

from django.db import models

from accounts.models import User
from kam.models import TimeStampedModel


class ImportKind(models.TextChoices):
    ACCOUNTS = "accounts", "Accounts"
    ORDERS = "orders", "Orders"
    INFLUENCERS = "influencers", "Buying influencers"
    VISITS = "visits", "Visits"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded, not imported yet"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    SUCCEEDED = "succeeded", "Imported"
    CHECKED = "checked", "Checked (dry run), nothing written"
    FAILED = "failed", "Refused, nothing written"


class ImportRecord(TimeStampedModel):
    """One file brought in: who, when, which file (name and SHA-256), and what it did to the database.

    All or nothing: a failed import (errors in any row) wrote nothing, and `errors` lists the first problems
    with their row number and column; `error_count` is the total.
    """

    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    status = models.CharField(max_length=20, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="imports", db_index=False
    )
    source = models.CharField(max_length=20, default="browser", help_text="browser or command")
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=10, default="csv")
    size_bytes = models.PositiveBigIntegerField(default=0)
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the file as uploaded.")
    dry_run = models.BooleanField(default=False)
    mapping = models.JSONField(default=dict, blank=True, help_text="Field name -> column of the file.")
    options = models.JSONField(default=dict, blank=True, help_text="Delimiter and encoding, if stated.")
    rows_total = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "accounts_importrecord"  # made in the accounts app, moved without copying (migration 0001)
        ordering = ["-created_at", "-id"]
        indexes = [
            # The imports page: the latest imports, newest first.
            models.Index(fields=["-created_at"], name="import_created_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} from {self.file_name} ({self.get_status_display().lower()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.SUCCEEDED, ImportStatus.CHECKED, ImportStatus.FAILED)

    @property
    def errors_not_shown(self) -> int:
        return max(self.error_count - len(self.errors), 0)

    @property
    def in_progress(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)


class ImportUpload(models.Model):
    """The bytes of an uploaded file until it is imported: in the database, so any worker can read them."""

    record = models.OneToOneField(ImportRecord, on_delete=models.CASCADE, related_name="upload")
    content = models.BinaryField()

    class Meta:
        db_table = "accounts_importupload"  # made in the accounts app, moved without copying (migration 0001)

    def __str__(self):
        return f"Upload of import {self.record_id}"


class ImportMapping(TimeStampedModel):
    """The column mapping a user last used for a kind of import, offered again next time."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    mapping = models.JSONField(default=dict)

    class Meta:
        db_table = (
            "accounts_importmapping"  # made in the accounts app, moved without copying (migration 0001)
        )
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="import_mapping_one_per_user_kind")
        ]

    def __str__(self):
        return f"{self.user_id}'s {self.kind} mapping"
