"""Reading a file exactly or refusing it: every row against its header, no silent shifts, no garbled text,
no impossible dates, and hostile files (huge dimensions, zip bombs, thousands of columns) refused before
they cost anything. Each case through the service the browser uses, and a refusal writes nothing."""

import datetime
import io
import re
import zipfile

import pytest

from accounts.models import Account, Order
from dataio.imports.parsing import ImportFileError, inspect, iter_chunks
from dataio.models import ImportRecord, ImportStatus
from tests.fixtures.imports import counts, messages, run, xlsx_bytes, xlsx_edited

pytestmark = pytest.mark.django_db


def accounts_as_read():
    accounts = Account.objects.filter(reference__startswith="R").order_by("reference")
    return list(accounts.values_list("reference", "name", "region"))


def test_a_trailing_delimiter_on_every_data_line_reads_each_value_under_its_header(world):
    record, result = run(
        "accounts", "reference,name,region\nR1,Shift Co,Benelux,\nR2,Other Co,Nordics,\n", user=world.manager
    )
    assert result.ok, result.problems
    assert accounts_as_read() == [("R1", "Shift Co", "Benelux"), ("R2", "Other Co", "Nordics")]
    assert record.rows_created == 2


def test_a_row_with_more_fields_than_the_header_is_refused_naming_the_row(world):
    text = "reference,name,region\n" + "".join(f"R{i:02},N{i},X\n" for i in range(30)) + "R99,Late,X,more\n"
    before = counts()
    record, result = run("accounts", text, user=world.manager)
    assert messages(result) == [
        (
            0,
            "",
            "Row 32 has more fields than the header (3): 'more' is past the last column. "
            "Quote values that contain the delimiter, or remove the extra field.",
        )
    ]
    assert record.status == ImportStatus.FAILED
    assert counts() == before
    _, result = run("accounts", text.replace(",more", ""), user=world.manager)  # without it, it imports
    assert result.ok
    assert accounts_as_read()[-1] == ("R99", "Late", "X")


def test_two_extra_fields_are_refused_naming_the_line(world):
    _, result = run("accounts", "reference,name,region\nR1,One,North\nR2,Two,South,,\n", user=world.manager)
    assert messages(result) == [
        (0, "", "The file is not a well-formed CSV: line 3 has 5 fields where the header has 3.")
    ]
    assert accounts_as_read() == []


@pytest.mark.parametrize("second", ["name", "NAME"])
def test_an_exact_duplicate_header_is_refused_like_a_case_variant(world, second):
    with pytest.raises(ImportFileError, match=f"The column '{second}' appears twice in the header."):
        run("accounts", f"reference,name,{second}\nR1,One,Two\n", user=world.manager)
    assert accounts_as_read() == []


def test_a_file_mixing_utf8_and_windows_1252_is_refused_naming_the_lines(world):
    content = "reference,name\nR1,Café\n".encode() + "R2,Zoë\n".encode("cp1252")
    with pytest.raises(ImportFileError, match="line 2 is UTF-8 but line 3 is not"):
        run("accounts", content, user=world.manager)
    assert accounts_as_read() == []


def test_a_nul_byte_after_the_first_64_kb_is_refused_naming_the_line(world):
    rows = "".join(f"R{i},Name {i}\n" for i in range(8000))
    content = f"reference,name\n{rows}R-NUL,Bad\x00name\n".encode()
    assert content.index(b"\x00") > 65536
    with pytest.raises(ImportFileError, match="Line 8002 contains a NUL character"):
        run("accounts", content, user=world.manager)
    assert not ImportRecord.objects.exists()
    assert accounts_as_read() == []


@pytest.mark.parametrize("date", ["-2026-01-01", "0000-01-01"])
def test_a_negative_or_zero_year_is_not_a_date(world, date):
    Account.objects.filter(pk=world.rep_account.pk).update(reference="C-1")
    record, result = run("orders", f"account_reference,date,revenue\nC-1,{date},5\n", user=world.manager)
    assert messages(result) == [(2, "date", f"{date} is not a date: write it as YYYY-MM-DD.")]
    assert record.status == ImportStatus.FAILED
    assert Order.objects.count() == 0


def test_a_csv_with_too_many_columns_is_refused_before_anything_else(world, settings):
    settings.KAM_IMPORT_MAX_COLUMNS = 200
    header = ",".join(["reference", "name"] + [f"c{i}" for i in range(299)])
    with pytest.raises(ImportFileError, match="The file has 301 columns; an import reads at most 200"):
        run("accounts", header + "\nR1,One\n", user=world.manager)
    assert not ImportRecord.objects.exists()


def test_a_workbook_with_too_many_columns_is_refused(world, settings):
    settings.KAM_IMPORT_MAX_COLUMNS = 200
    content = xlsx_bytes([["reference", "name"] + [f"c{i}" for i in range(299)], ["R1", "One"]])
    with pytest.raises(ImportFileError, match="301 columns"):
        run("accounts", content, user=world.manager, name="wide.xlsx")
    assert not ImportRecord.objects.exists()


def declare_dimension(ref: str):
    return lambda xml: re.sub(rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{ref}"/>'.encode(), xml)


def test_a_workbook_is_read_as_far_as_its_cells_go_not_its_declared_dimension(world, settings):
    settings.KAM_IMPORT_MAX_ROWS = 1000
    content = xlsx_edited(
        xlsx_bytes([["reference", "name"], ["R1", "Dimension Co"]]),
        {"xl/worksheets/sheet1.xml": declare_dimension("A1:XFD1048576")},
    )
    record, result = run("accounts", content, user=world.manager, name="big.xlsx")
    assert result.ok, result.problems
    assert (record.rows_total, record.rows_created) == (1, 1)
    assert accounts_as_read() == [("R1", "Dimension Co", "")]


def test_a_workbook_with_more_rows_than_the_limit_is_refused(world, settings):
    settings.KAM_IMPORT_MAX_ROWS = 10
    content = xlsx_bytes([["reference", "name"]] + [[f"R{i}", f"Name {i}"] for i in range(11)])
    record, result = run("accounts", content, user=world.manager, name="long.xlsx")
    assert messages(result) == [(0, "", "The workbook has more than 10 rows: split it, or save it as CSV.")]
    assert record.status == ImportStatus.FAILED
    assert accounts_as_read() == []


def test_a_workbook_that_unpacks_past_the_limit_is_refused_before_it_is_opened(world, settings):
    settings.KAM_IMPORT_MAX_UNPACKED_BYTES = 1_000_000
    # 5 MB that compress to a few KB: a small zip bomb.
    padding = b"<x>" + b"x" * 5_000_000 + b"</x>"
    content = xlsx_edited(
        xlsx_bytes([["reference", "name"], ["R1", "Bomb Co"]]), {"xl/padding.xml": lambda _: padding}
    )
    assert len(content) < 100_000
    with pytest.raises(ImportFileError, match="The workbook unpacks to 5 MB; the limit is 1 MB"):
        run("accounts", content, user=world.manager, name="bomb.xlsx")
    assert not ImportRecord.objects.exists()


def test_a_workbook_member_that_lies_about_its_size_is_read_as_damaged(world):
    content = bytearray(xlsx_bytes([["reference", "name"], ["R1", "Liar Co"]]))
    sheet = zipfile.ZipFile(io.BytesIO(bytes(content))).getinfo("xl/worksheets/sheet1.xml")
    central = bytes(content).rindex(b"PK\x01\x02", 0, bytes(content).rindex(b"xl/worksheets/sheet1.xml"))
    # Declare 10 bytes for the sheet, in its local header and in the central directory alike.
    for offset in (sheet.header_offset + 22, central + 24):
        content[offset : offset + 4] = (10).to_bytes(4, "little")
    with pytest.raises(ImportFileError, match="The Excel workbook cannot be read: Bad CRC-32"):
        run("accounts", bytes(content), user=world.manager, name="liar.xlsx")
    assert not ImportRecord.objects.exists()


@pytest.mark.parametrize("sheets_listed", [False, True], ids=["no-sheet", "sheet-part-missing"])
def test_a_workbook_without_a_sheet_is_refused(world, sheets_listed):
    edits = {"xl/worksheets/sheet1.xml": lambda _: None}
    if not sheets_listed:
        edits["xl/workbook.xml"] = lambda xml: re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", xml, flags=re.S)
    content = xlsx_edited(xlsx_bytes([["reference", "name"], ["R1", "One"]]), edits)
    with pytest.raises(ImportFileError, match="The Excel workbook has no sheet"):
        run("accounts", content, user=world.manager, name="empty.xlsx")
    assert not ImportRecord.objects.exists()


def test_a_cell_openpyxl_cannot_parse_is_a_clear_refusal(world):
    content = xlsx_edited(
        xlsx_bytes([["reference", "name"], ["R1", 5]]),
        {"xl/worksheets/sheet1.xml": lambda xml: xml.replace(b"<v>5</v>", b"<v>five</v>")},
    )
    with pytest.raises(ImportFileError, match="The Excel workbook cannot be read: could not convert"):
        run("accounts", content, user=world.manager, name="cell.xlsx")
    assert not ImportRecord.objects.exists()


def test_a_date_far_in_the_past_in_a_workbook_is_still_read(world):
    # openpyxl returns dates as datetimes: the negative-year rule applies to text, not to real dates
    Account.objects.filter(pk=world.rep_account.pk).update(reference="C-1")
    content = xlsx_bytes([["account_reference", "date", "revenue"], ["C-1", datetime.date(1995, 1, 2), 5]])
    _, result = run("orders", content, user=world.manager, name="o.xlsx")
    assert result.ok, result.problems


@pytest.mark.parametrize("chunk_rows", [1, 2, 20])
def test_every_chunk_holds_as_many_rows_as_asked_the_first_too(chunk_rows):
    content = ("reference,name\n" + "".join(f"R{i},N{i}\n" for i in range(45))).encode()
    chunks = list(iter_chunks(content, inspect(content), chunk_rows=chunk_rows))
    assert [len(c) for c in chunks[:-1]] == [chunk_rows] * (len(chunks) - 1)
    assert sum(len(c) for c in chunks) == 45
    assert chunks[0]["_row"].iloc[0] == 2
