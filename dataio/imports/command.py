"""The shell side of imports: `python manage.py import_<kind> FILE [--dry-run]`, the browser's code path."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from dataio.imports import parsing
from dataio.imports.service import import_run, import_start


class ImportCommand(BaseCommand):
    kind = ""

    def add_arguments(self, parser):
        parser.add_argument(
            "file", help="A CSV (UTF-8 or Windows-1252; comma, semicolon or tab) or .xlsx file"
        )
        parser.add_argument("--dry-run", action="store_true", help="Check and count, write nothing")
        parser.add_argument("--user", help="Record the import as this user's (username)")
        parser.add_argument("--delimiter", choices=[",", ";", "tab"], help="Instead of detecting it")
        parser.add_argument(
            "--encoding", choices=["utf-8", "utf-8-sig", "cp1252"], help="Instead of detecting it"
        )
        parser.add_argument("--json", action="store_true", help="Print the outcome as one JSON object")

    def handle(self, *args, **opts):
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        user = None
        if opts["user"]:
            user = User.objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"No user {opts['user']!r}.")
        delimiter = "\t" if opts["delimiter"] == "tab" else opts["delimiter"] or ""
        try:
            record, _ = import_start(
                kind=self.kind,
                user=user,
                file_name=path.name,
                content=path.read_bytes(),
                source="command",
                options={"delimiter": delimiter, "encoding": opts["encoding"] or ""},
                keep_upload=False,
                max_bytes=None,  # the upload limit protects the web server; the shell reads from disk
            )
        except parsing.ImportFileError as exc:
            raise CommandError(str(exc)) from None
        result = import_run(record=record, content=path.read_bytes(), dry_run=opts["dry_run"])
        outcome = {
            "import": record.pk,
            "status": result.status,
            "rows": result.rows_total,
            "created": result.plan.created,
            "updated": result.plan.updated,
            "unchanged": result.plan.unchanged,
            "rejected": result.rows_rejected,
            "errors": result.error_count,
        }
        if opts["json"]:
            self.stdout.write(json.dumps(outcome | {"problems": result.problems[:100]}))
        else:
            verb = "Would create" if opts["dry_run"] else "Created"
            for problem in result.problems[:100]:
                where = f"row {problem['row']}" if problem["row"] else "file"
                column = f", {problem['column']}" if problem["column"] else ""
                self.stderr.write(f"{where}{column}: {problem['message']}")
            if result.ok:
                self.stdout.write(
                    f"{verb} {result.plan.created}, updated {result.plan.updated}, "
                    f"unchanged {result.plan.unchanged} of {result.rows_total} rows"
                    + (" (dry run: nothing written)." if opts["dry_run"] else ".")
                )
        if not result.ok:
            raise CommandError(
                f"{result.error_count} problem(s) in {result.rows_rejected} row(s): nothing was written."
            )
