"""The standing bad-input suite for imports: every malformed file gives a clear message and writes nothing.

Each file goes through the service the browser uses (import_start, then import_run), on PostgreSQL, and the
rows of accounts, orders, visits and buying influencers are compared before and after. The text files are in
bad_files/ (written by bad_files/generate.py); binary ones are built here. A new way a file can be wrong
gets a file and a row in CASES.
"""

import re
from pathlib import Path

import pytest

from dataio.imports.parsing import ImportFileError
from tests.factories import OrderFactory
from tests.fixtures.imports import counts, run, xlsx_bytes, xlsx_edited

pytestmark = pytest.mark.usefixtures("postgres")

FOLDER = Path(__file__).parent / "bad_files"
ACCOUNT_ROWS = "".join(f"BF-{i},Name {i},3\n" for i in range(8000))


def binary_files() -> dict:
    """name -> a function making the file (the zip bomb takes a moment: made only when asked for)."""
    good = xlsx_bytes([["reference", "name", "image_rating"], ["BF-1", "Sheet Co", 3]])
    sheet = "xl/worksheets/sheet1.xml"
    no_sheets = {
        sheet: lambda _: None,
        "xl/workbook.xml": lambda xml: re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", xml, flags=re.S),
    }
    return {
        "png_named.csv": lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "utf16_bom.csv": lambda: "\ufeffreference,name\nBF-1,Wide Co\n".encode("utf-16"),
        "nul_after_64kb.csv": lambda: (
            f"reference,name,image_rating\n{ACCOUNT_ROWS}BF-X,Nul\x00Co,3\n".encode()
        ),
        "too_many_columns.csv": lambda: (",".join(f"c{i}" for i in range(100_000)) + "\nx,y,z\n").encode(),
        "old_excel.xls": lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
        "damaged.xlsx": lambda: good[: len(good) // 2],
        "zip_not_workbook.xlsx": lambda: xlsx_edited(good, {"[Content_Types].xml": lambda _: None}),
        "no_sheet.xlsx": lambda: xlsx_edited(good, no_sheets),
        "bad_cell.xlsx": lambda: xlsx_edited(
            good, {sheet: lambda xml: xml.replace(b"<v>3</v>", b"<v>x</v>")}
        ),
        # 60 MB of zeros in a 60 KB file, past the limit set below (a bigger bomb only takes longer to make)
        "zip_bomb.xlsx": lambda: xlsx_edited(good, {"xl/padding.xml": lambda _: bytes(60 * 1024 * 1024)}),
    }


# file -> (kind, the message it gives: a file refused as a whole, or (row, column, message) of a row)
CASES = {
    "empty.csv": ("accounts", "The file is empty."),
    "blank_lines_only.csv": ("accounts", "The file has no header row: the first line must name the columns."),
    "header_only.csv": ("accounts", (0, "", "The file has no rows under its header.")),
    "utf8_bom.csv": ("accounts", (3, "image_rating", "9 is not a whole number from 1 to 5.")),
    "crlf_line_ends.csv": ("accounts", (3, "image_rating", "9 is not a whole number from 1 to 5.")),
    "cr_line_ends.csv": ("accounts", (3, "image_rating", "9 is not a whole number from 1 to 5.")),
    "quoted_newline.csv": ("accounts", (3, "image_rating", "9 is not a whole number from 1 to 5.")),
    "trailing_field_with_value.csv": (
        "accounts",
        (
            0,
            "",
            "Row 3 has more fields than the header (3): 'Benelux' is past the last column. "
            "Quote values that contain the delimiter, or remove the extra field.",
        ),
    ),
    "two_extra_fields.csv": (
        "accounts",
        (0, "", "The file is not a well-formed CSV: line 2 has 5 fields where the header has 3."),
    ),
    "duplicate_header.csv": ("accounts", "The column 'name' appears twice in the header."),
    "unclosed_quote.csv": (
        "accounts",
        (0, "", "The file is not a well-formed CSV: the quote opened in row 2 is never closed."),
    ),
    "mixed_utf8_cp1252.csv": (
        "accounts",
        "The file mixes two encodings: line 2 is UTF-8 but line 3 is not (Windows-1252?), so some letters "
        "would come out garbled. Save the whole file again as CSV UTF-8.",
    ),
    "huge_number.csv": (
        "orders",
        (3, "revenue", "1e309 is not a number (this file writes decimals with a point)."),
    ),
    "nan.csv": ("orders", (3, "revenue", "NaN is not a number (this file writes decimals with a point).")),
    "negative_year.csv": ("orders", (3, "date", "-2026-01-01 is not a date: write it as YYYY-MM-DD.")),
    "thousands_of_errors.csv": ("accounts", (2, "image_rating", "9 is not a whole number from 1 to 5.")),
    "png_named.csv": ("accounts", "The file is not text (CSV) nor an Excel workbook (.xlsx)."),
    "utf16_bom.csv": ("accounts", "The file is UTF-16 text: save it as CSV in UTF-8 (Excel: CSV UTF-8)."),
    "nul_after_64kb.csv": (
        "accounts",
        "Line 8002 contains a NUL character (a zero byte), which is not text: remove it, or export the file "
        "again.",
    ),
    "too_many_columns.csv": (
        "accounts",
        "The file has at least 10,950 columns; an import reads at most 200. Remove the columns it does not "
        "need.",
    ),
    "old_excel.xls": (
        "accounts",
        "Old Excel files (.xls) are not supported: save the sheet as .xlsx or CSV.",
    ),
    "damaged.xlsx": ("accounts", "The file looks like a zip archive but is damaged."),
    "zip_not_workbook.xlsx": (
        "accounts",
        "The file is a zip archive, not an Excel workbook (.xlsx). Save it as .xlsx or CSV.",
    ),
    "no_sheet.xlsx": ("accounts", "The Excel workbook has no sheet."),
    "bad_cell.xlsx": ("accounts", "The Excel workbook cannot be read: "),
    "zip_bomb.xlsx": (
        "accounts",
        "The workbook unpacks to 63 MB; the limit is 52 MB. Save the sheet as CSV, or split it.",
    ),
}


def content_of(name: str) -> bytes:
    path = FOLDER / name
    return path.read_bytes() if path.exists() else binary_files()[name]()


def outcome(kind: str, content: bytes, *, user, name: str):
    """(message, None) for a file refused as a whole, else (record, result)."""
    try:
        return run(kind, content, user=user, name=name)
    except ImportFileError as exc:
        return str(exc), None


def test_every_bad_file_has_a_case_and_every_case_a_file():
    on_disk = {p.name for p in FOLDER.iterdir() if p.suffix == ".csv"}
    assert on_disk | set(binary_files()) == set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_a_bad_file_gives_a_clear_message_and_writes_nothing(world, settings, name):
    settings.KAM_IMPORT_MAX_UNPACKED_BYTES = 50 * 1024 * 1024
    kind, expected = CASES[name]
    world.rep_account.reference = "C-1"
    world.rep_account.save()
    OrderFactory(account=world.rep_account, reference="EXISTING")
    before = counts()
    record, result = outcome(kind, content_of(name), user=world.manager, name=name)
    if isinstance(expected, str):
        assert isinstance(record, str), result.problems[:3]
        assert record.startswith(expected)
    else:
        assert record.status == "failed"
        first = result.problems[0]
        assert (first["row"], first["column"]) == expected[:2]
        assert first["message"].startswith(expected[2])
    if name == "thousands_of_errors.csv":
        # capped: the first 1000 kept (200 on the record), the count says how many there are
        assert (result.error_count, len(result.problems), len(record.errors)) == (3000, 1000, 200)
    assert counts() == before
