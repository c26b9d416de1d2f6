"""Imports in the browser, for managers: upload -> map columns -> preview with every problem -> commit.

Large files are checked and written by a Celery task while the page polls a progress bar (htmx); without
REDIS_URL the task runs in-process and the page shows the outcome straight away.
"""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import selectors
from accounts.access import get_account_for_user
from accounts.models import Account
from dataio import exports
from dataio.imports import parsing, progress
from dataio.imports.service import (
    BACKGROUND_ROWS,
    IMPORTERS,
    MAX_BYTES,
    PREVIEW_ROWS,
    ImportQueueUnavailable,
    import_queue,
    import_run,
    import_start,
    mapped_frame,
    mapping_remember,
    missing_required,
)
from dataio.models import ImportKind, ImportRecord, ImportStatus, ImportUpload
from kam.web import fragment_view, manager_page, staff_page, wants_fragment
from scoring.analytics.loading import PortfolioFilters

# Checked in full before committing, in the request; bigger files get their first rows checked here and
# the whole file on the task (where a problem anywhere still writes nothing).
PREVIEW_CHECK_ROWS = BACKGROUND_ROWS


class UploadForm(forms.Form):
    kind = forms.ChoiceField(choices=ImportKind.choices, label="What the file holds")
    file = forms.FileField(
        label="File",
        help_text=f"CSV or Excel (.xlsx), up to {MAX_BYTES // 1_000_000} MB. The first row names the columns.",
    )
    delimiter = forms.ChoiceField(
        required=False,
        choices=[("", "Detect"), (",", "Comma"), (";", "Semicolon"), ("\t", "Tab")],
        label="CSV delimiter",
    )
    encoding = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Detect"),
            ("utf-8", "UTF-8"),
            ("utf-8-sig", "UTF-8 with BOM"),
            ("cp1252", "Windows-1252"),
        ],
        label="CSV encoding",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1e6:.1f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB. "
                "Split it, or import it from the shell."
            )
        return upload


def _mapping_form(record: ImportRecord, headers: list[str], data=None) -> forms.Form:
    choices = [("", "— not in this file —")] + [(h, h) for h in headers]
    form = forms.Form(data)
    for spec in IMPORTERS[record.kind].fields:
        form.fields[spec.name] = forms.ChoiceField(
            choices=choices,
            required=spec.required,
            label=spec.name + (" (required)" if spec.required else ""),
            help_text=spec.help,
            initial=record.mapping.get(spec.name, ""),
        )
    return form


def _record(request, pk, *, mine: bool = False) -> ImportRecord:
    records = ImportRecord.objects.select_related("created_by")
    if mine:
        records = records.filter(created_by=request.user)
    try:
        return records.get(pk=pk)
    except (ImportRecord.DoesNotExist, ValueError):
        raise Http404("No such import.") from None


def _content(record: ImportRecord) -> bytes:
    upload = ImportUpload.objects.filter(record=record).first()
    if upload is None:
        raise Http404("This file was imported or discarded already.")
    return bytes(upload.content)


@manager_page
def import_index(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            record, _ = import_start(
                kind=form.cleaned_data["kind"],
                user=request.user,
                file_name=upload.name,
                content=upload.read(),
                options={
                    "delimiter": form.cleaned_data["delimiter"],
                    "encoding": form.cleaned_data["encoding"],
                },
            )
        except parsing.ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("imports:map", pk=record.pk)
    records = ImportRecord.objects.select_related("created_by")[:50]
    return render(request, "imports/index.html", {"form": form, "records": records})


@manager_page
def import_map(request, pk):
    record = _record(request, pk, mine=True)
    content = _content(record)
    info = parsing.inspect(content, **record.options)
    headers = parsing.read_headers(content, info)
    form = _mapping_form(record, headers, request.POST or None)
    if request.method == "POST" and form.is_valid():
        record.mapping = {name: column for name, column in form.cleaned_data.items() if column}
        record.save(update_fields=["mapping", "updated_at"])
        mapping_remember(user=request.user, kind=record.kind, mapping=record.mapping)
        return redirect("imports:preview", pk=record.pk)
    used = set(record.mapping.values())
    context = {"record": record, "form": form, "info": info, "ignored": [h for h in headers if h not in used]}
    return render(request, "imports/map.html", context)


@manager_page
def import_preview(request, pk):
    record = _record(request, pk, mine=True)
    content = _content(record)
    info = parsing.inspect(content, **record.options)
    headers = parsing.read_headers(content, info)
    missing = missing_required(record.kind, record.mapping, headers)
    partial = record.rows_total > PREVIEW_CHECK_ROWS
    result = import_run(
        record=record,
        content=content,
        dry_run=True,
        max_rows=PREVIEW_CHECK_ROWS if partial else None,
        save=False,
    )
    rows = []
    if not missing:
        try:
            first = next(parsing.iter_chunks(content, info, chunk_rows=PREVIEW_ROWS), None)
        except parsing.ImportFileError:
            first = None  # the check above read the same rows and lists the problem
        if first is not None:
            mapped = mapped_frame(first.head(PREVIEW_ROWS), record.mapping, IMPORTERS[record.kind])
            rows = mapped.to_dict("records")
    by_row = {}
    for problem in result.problems:
        by_row.setdefault(problem["row"], []).append(problem)
    fields = IMPORTERS[record.kind].field_names()
    table = [
        {
            "row": row["_row"],
            "cells": [row[name] for name in fields],
            "problems": by_row.get(row["_row"], []),
        }
        for row in rows
    ]
    context = {
        "record": record,
        "result": result,
        "fields": fields,
        "table": table,
        "partial": partial,
        "checked_rows": result.rows_total,
        "info": info,
    }
    return render(request, "imports/preview.html", context)


@require_POST
@manager_page
def import_commit(request, pk):
    record = _record(request, pk, mine=True)
    try:
        queued = import_queue(record=record)
    except ImportQueueUnavailable as exc:
        messages.error(request, str(exc))
        return redirect("imports:preview", pk=record.pk)
    if not queued:
        messages.info(request, "This file was already imported.")
    return redirect("imports:detail", pk=record.pk)


@fragment_view
@manager_page
def import_detail(request, pk):
    record = _record(request, pk)
    done = progress.rows_done(record.pk) if record.in_progress else None
    percent = min(100, round(100 * done / record.rows_total)) if done and record.rows_total else None
    context = {"record": record, "rows_done": done, "percent": percent, "problems": record.errors}
    if wants_fragment(request):
        return render(request, "imports/detail.html#status", context)
    return render(request, "imports/detail.html", context)


@require_POST
@manager_page
def import_discard(request, pk):
    record = _record(request, pk, mine=True)
    ImportUpload.objects.filter(record=record, record__status=ImportStatus.UPLOADED).delete()
    ImportRecord.objects.filter(pk=record.pk, status=ImportStatus.UPLOADED).delete()
    messages.success(request, f"{record.file_name} discarded; nothing was imported.")
    return redirect("imports:index")


# --- Exports -------------------------------------------------------------------------------------------------


def _export_accounts(request):
    """The accounts an export covers: one account (?account=<id>, from its page), or the account list's
    accounts with the list's filters; always only what the user may see."""
    if request.GET.get("account"):
        account = get_account_for_user(request.user, request.GET["account"])
        return Account.objects.filter(pk=account.pk)
    return selectors.account_list(
        user=request.user,
        filters=selectors.AccountFilters.from_query(request.GET),
        today=timezone.localdate(),
    )


@staff_page
def export(request, kind: str, fmt: str):
    if fmt not in exports.FORMATS or kind not in exports.EXPORTS:
        raise Http404("No such export.")
    header, rows = exports.EXPORTS[kind]
    return exports.response(kind, fmt, header, rows(_export_accounts(request)))


@manager_page
def export_portfolio(request, fmt: str):
    """The current portfolio with each account's score breakdown, filtered like the dashboard."""
    if fmt not in exports.FORMATS:
        raise Http404("No such export.")
    accounts = Account.objects.visible_to(request.user).filter(PortfolioFilters.from_query(request.GET).q())
    return exports.response("portfolio", fmt, exports.portfolio_columns(), exports.portfolio_rows(accounts))
