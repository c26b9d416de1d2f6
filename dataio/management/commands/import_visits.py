from dataio.imports.command import ImportCommand
from dataio.models import ImportKind


class Command(ImportCommand):
    help = "Import visits from a CSV or Excel file, all or nothing (the browser's code path)."
    kind = ImportKind.VISITS
