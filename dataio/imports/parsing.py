"""Reading an uploaded file: what it is (by content, not name), its encoding and delimiter, and its rows.

Every value comes out as text (a DataFrame of str, "" for empty), so the checks that follow see exactly what
the person typed, whatever the source: CSV in UTF-8 (with or without BOM) or Windows-1252, delimited by
comma, semicolon or tab, or an Excel workbook (.xlsx, first sheet). Numbers and dates are parsed here too,
vectorised, by the importers.
"""

import csv
import datetime
import io
import itertools
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.conf import settings

CHUNK_ROWS = 100_000
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
ENCODINGS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "cp1252": "Windows-1252"}
XLSX_ENTRIES = ("[Content_Types].xml", "xl/workbook.xml")
# The first line of a spreadsheet is the header: the first data row is row 2, as the person sees it.
FIRST_DATA_ROW = 2


class ImportFileError(ValueError):
    """The file as a whole cannot be read: the message says why, for the person who uploaded it."""


@dataclass(frozen=True)
class FileInfo:
    format: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ""

    def describe(self) -> str:
        if self.format == "xlsx":
            return "Excel workbook"
        return (
            f"CSV, {ENCODINGS.get(self.encoding, self.encoding)}, {DELIMITERS.get(self.delimiter, 'comma')}"
        )


def sniff_format(content: bytes) -> str:
    """'xlsx' or 'csv', judged by the bytes: a zip with a workbook inside, or text."""
    if not content:
        raise ImportFileError("The file is empty.")
    if content[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                names = set(archive.namelist())
                if all(entry in names for entry in XLSX_ENTRIES):
                    _refuse_zip_bomb(archive)
                    return "xlsx"
        except zipfile.BadZipFile:
            raise ImportFileError("The file looks like a zip archive but is damaged.") from None
        raise ImportFileError(
            "The file is a zip archive, not an Excel workbook (.xlsx). Save it as .xlsx or CSV."
        )
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFileError("Old Excel files (.xls) are not supported: save the sheet as .xlsx or CSV.")
    if content[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ImportFileError("The file is UTF-16 text: save it as CSV in UTF-8 (Excel: CSV UTF-8).")
    nul = content.find(b"\x00")
    if 0 <= nul < 65536:
        raise ImportFileError("The file is not text (CSV) nor an Excel workbook (.xlsx).")
    if nul >= 0:
        # Text up to here, then a zero byte: no database stores it, and it is never part of a real value.
        line = content.count(b"\n", 0, nul) + 1
        raise ImportFileError(
            f"Line {line} contains a NUL character (a zero byte), which is not text: remove it, "
            "or export the file again."
        )
    return "csv"


def _refuse_zip_bomb(archive: zipfile.ZipFile) -> None:
    """A workbook is unpacked by openpyxl (the shared strings and styles whole, in memory): refuse one that
    would unpack to more than KAM_IMPORT_MAX_UNPACKED_BYTES before opening it. The sizes checked are the
    declared ones; zipfile stops every member at its declared size and fails its CRC if there is more, so
    a member that lies about its size is read as damaged, never past the limit."""
    limit = settings.KAM_IMPORT_MAX_UNPACKED_BYTES
    unpacked = sum(member.file_size for member in archive.infolist())
    if unpacked > limit:
        raise ImportFileError(
            f"The workbook unpacks to {unpacked / 1e6:,.0f} MB; the limit is {limit / 1e6:,.0f} MB. "
            "Save the sheet as CSV, or split it."
        )


def detect_encoding(content: bytes, stated: str = "") -> str:
    """UTF-8 (with or without BOM) if the bytes are valid UTF-8, else Windows-1252; or the stated one."""
    if stated:
        try:
            content.decode(stated)
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"The file is not valid {ENCODINGS.get(stated, stated)} (byte {exc.start + 1}). "
                "Choose another encoding or let it be detected."
            ) from None
        return stated
    encoding = "utf-8-sig" if content.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        content.decode(encoding)
        return encoding
    except UnicodeDecodeError:
        pass
    try:
        content.decode("cp1252")
    except UnicodeDecodeError:
        raise ImportFileError(
            "The file is not text in UTF-8 or Windows-1252: save it as CSV (UTF-8)."
        ) from None
    _refuse_mixed_encodings(content)
    return "cp1252"


# Two bytes that begin a UTF-8 letter; rare in Windows-1252 text ("Ã©" is how "é" looks when misread).
_UTF8_PAIR = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")


def _refuse_mixed_encodings(content: bytes) -> None:
    """A file that is not UTF-8 as a whole but has UTF-8 lines was pasted together from two sources: read as
    Windows-1252, its UTF-8 lines would come out garbled ("CafÃ©"), so it is refused, naming a line of each.
    One regex scan in C finds the candidates; only their lines are decoded.
    """
    for match in _UTF8_PAIR.finditer(content):
        start = content.rfind(b"\n", 0, match.start()) + 1
        end = content.find(b"\n", match.end())
        try:
            content[start : len(content) if end < 0 else end].decode("utf-8")
        except UnicodeDecodeError:
            continue  # a Windows-1252 line that happens to hold such a pair
        try:
            content.decode("utf-8")
        except UnicodeDecodeError as exc:
            utf8_line = content.count(b"\n", 0, start) + 1
            cp1252_line = content.count(b"\n", 0, exc.start) + 1
            raise ImportFileError(
                f"The file mixes two encodings: line {utf8_line} is UTF-8 but line {cp1252_line} is not "
                "(Windows-1252?), so some letters would come out garbled. Save the whole file again as "
                "CSV UTF-8."
            ) from None


def detect_delimiter(first_line: str, stated: str = "") -> str:
    """The stated delimiter, else whichever of comma, semicolon and tab splits the header line most."""
    if stated:
        return stated
    counts = {delimiter: max(_fields(first_line, delimiter) - 1, 0) for delimiter in DELIMITERS}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 0 else ","


def inspect(content: bytes, *, encoding: str = "", delimiter: str = "") -> FileInfo:
    file_format = sniff_format(content)
    if file_format == "xlsx":
        return FileInfo("xlsx")
    encoding = detect_encoding(content, encoding)
    head = content[:65536].decode(encoding, errors="ignore").lstrip("\ufeff")
    first_line = head.splitlines()[0] if head.strip() else ""
    delimiter = detect_delimiter(first_line, delimiter)
    # Counted here, before pandas builds a frame of them: 100,000 columns take it many seconds.
    cut = len(content) > 65536 and "\n" not in head and "\r" not in head
    _refuse_too_many_columns(_fields(first_line, delimiter), at_least=cut)
    return FileInfo("csv", encoding, delimiter)


def _fields(line: str, delimiter: str) -> int:
    try:
        return len(next(csv.reader([line], delimiter=delimiter)))
    except (csv.Error, StopIteration):
        return 0


def _clean_headers(headers) -> list[str]:
    out = []
    for i, header in enumerate(headers):
        text = "" if header is None else str(header).strip().lstrip("\ufeff")
        out.append(text or f"column {i + 1}")
    return out


def read_headers(content: bytes, info: FileInfo) -> list[str]:
    if info.format == "csv":
        return _csv_headers(content, info)
    for frame in iter_chunks(content, info, chunk_rows=1):
        return list(frame.columns[1:])
    return []


def iter_chunks(content: bytes, info: FileInfo, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """DataFrames of text, chunk by chunk; the first column, `_row`, is the row number in the file."""
    if info.format == "xlsx":
        yield from _xlsx_chunks(content, chunk_rows)
    else:
        yield from _csv_chunks(content, info, chunk_rows)


def _text(content: bytes, info: FileInfo) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(content), encoding=info.encoding, newline="")


def _csv_headers(content: bytes, info: FileInfo) -> list[str]:
    """The header line's fields, checked ([] for a file without one)."""
    try:
        header = pd.read_csv(
            _text(content, info),
            sep=info.delimiter or ",",
            header=None,
            nrows=1,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        return []
    except pd.errors.ParserError as exc:
        raise ImportFileError(f"The file is not a well-formed CSV: {exc}".strip()) from None
    _refuse_too_many_columns(header.shape[1])
    headers = _clean_headers(header.iloc[0])
    _refuse_duplicate_headers(headers)
    return headers


def _csv_chunks(content: bytes, info: FileInfo, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Each row read against the header exactly: pandas is given the header's width plus one spare column
    (never left to infer, or a trailing delimiter on every data line makes the first column an index and
    moves every value one column left). The spare column takes the empty field a trailing delimiter makes;
    a row with something in it, or with more fields still, is refused, naming the row."""
    headers = _csv_headers(content, info)
    width = len(headers)
    if not width:
        return
    try:
        reader = pd.read_csv(
            _text(content, info),
            sep=info.delimiter or ",",
            header=None,
            names=[str(i) for i in range(width + 1)],
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
            chunksize=chunk_rows,
            engine="c",
        )
        start = FIRST_DATA_ROW
        first = True
        # The first chunk holds the header line too: one more row, so it has chunk_rows of data like the rest.
        for frame in itertools.chain([reader.get_chunk(chunk_rows + 1)], reader):
            if first:  # the header line, read above
                frame, first = frame.iloc[1:], False
            spare = frame[str(width)].to_numpy(dtype=object) != ""
            if spare.any():
                at = int(np.argmax(spare))
                raise ImportFileError(
                    f"Row {start + at} has more fields than the header ({width}): "
                    f"{frame[str(width)].iloc[at][:50]!r} is past the last column. "
                    "Quote values that contain the delimiter, or remove the extra field."
                )
            if frame.empty:
                continue
            frame = frame.iloc[:, :width]
            frame.columns = headers
            frame.insert(0, "_row", np.arange(start, start + len(frame)))
            start += len(frame)
            yield frame
    except pd.errors.EmptyDataError:
        return
    except pd.errors.ParserError as exc:
        raise ImportFileError(f"The file is not a well-formed CSV: {_parser_message(exc, width)}") from None


def _parser_message(exc: Exception, width: int) -> str:
    message = str(exc).strip()
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if match:
        _, line, saw = match.groups()
        return f"line {line} has {saw} fields where the header has {width}."
    match = re.search(r"EOF inside string starting at row (\d+)", message)
    if match:  # pandas counts rows from 0, the header being row 0
        return f"the quote opened in row {int(match.group(1)) + 1} is never closed."
    return message


def _refuse_too_many_columns(width: int, *, at_least: bool = False) -> None:
    # Every column costs work on every page of the import (the mapping form lists each one).
    limit = settings.KAM_IMPORT_MAX_COLUMNS
    if width > limit:
        raise ImportFileError(
            f"The file has {'at least ' if at_least else ''}{width:,} columns; an import reads at most "
            f"{limit}. Remove the columns it does not need."
        )


def _refuse_duplicate_headers(headers: list[str]) -> None:
    seen = set()
    for header in headers:
        if header.lower() in seen:
            raise ImportFileError(f"The column {header!r} appears twice in the header.")
        seen.add(header.lower())


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time(0) else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _xlsx_chunks(content: bytes, chunk_rows: int) -> Iterator[pd.DataFrame]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise ImportFileError(f"The Excel workbook cannot be read: {exc}") from None
    try:
        yield from _xlsx_rows(workbook, chunk_rows)
    except ImportFileError:
        raise
    except Exception as exc:  # a cell openpyxl cannot parse (a number that is not one, ...)
        raise ImportFileError(f"The Excel workbook cannot be read: {exc}") from None
    finally:
        workbook.close()


def _xlsx_rows(workbook, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if not workbook.worksheets:
        raise ImportFileError("The Excel workbook has no sheet.")
    sheet = workbook.worksheets[0]
    # The dimension a sheet declares (A1:XFD1048576 costs a few bytes) would make openpyxl pad every row to
    # it: read only the cells that are there, within our own bounds.
    sheet.reset_dimensions()
    max_rows = settings.KAM_IMPORT_MAX_ROWS
    header_row = next(sheet.iter_rows(max_row=1, values_only=True), None)
    if header_row is None:
        return
    # Trailing empty header cells are formatting, not columns.
    width = len(header_row)
    while width and header_row[width - 1] in (None, ""):
        width -= 1
    _refuse_too_many_columns(width)
    headers = _clean_headers(header_row[:width])
    _refuse_duplicate_headers(headers)
    batch, numbers, row_number = [], [], FIRST_DATA_ROW - 1
    for values in sheet.iter_rows(min_row=2, max_row=max_rows + 2, max_col=max(width, 1), values_only=True):
        row_number += 1
        if row_number > max_rows + 1:
            raise ImportFileError(
                f"The workbook has more than {max_rows:,} rows: split it, or save it as CSV."
            )
        cells = [_cell_text(v) for v in values[:width]]
        if not any(cells):
            continue
        cells += [""] * (width - len(cells))
        batch.append(cells)
        numbers.append(row_number)
        if len(batch) >= chunk_rows:
            yield _frame(batch, numbers, headers)
            batch, numbers = [], []
    if batch:
        yield _frame(batch, numbers, headers)


def _frame(batch, numbers, headers) -> pd.DataFrame:
    frame = pd.DataFrame(batch, columns=headers, dtype=object)
    frame.insert(0, "_row", np.asarray(numbers))
    return frame


def estimate_rows(content: bytes, info: FileInfo) -> int:
    """Data rows, for the progress bar (a quoted line break counts twice; close enough)."""
    if info.format == "xlsx":
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True)
            rows = workbook.worksheets[0].max_row or 1
            workbook.close()
            # The declared dimension, which may lie: only an estimate, and never above what is read.
            return min(max(rows - 1, 0), settings.KAM_IMPORT_MAX_ROWS)
        except Exception:
            return 0
    lines = content.count(b"\n")
    if content and not content.endswith(b"\n"):
        lines += 1
    return max(lines - 1, 0)


# --- Values ------------------------------------------------------------------------------------------------

_SPACES = re.compile(r"[\s\u00a0\u202f']")
_PLAIN = re.compile(r"^-?\d+(\.\d+)?$")
_POINT_DECIMAL = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_COMMA_DECIMAL = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$")


_NEEDS_STRIP = re.compile(r"(?:^|\x00)(?:\s|')|\s(?:\x00|$)")


def strip_text(series: pd.Series) -> pd.Series:
    """Trimmed text; the quote our exports put before a leading = + - @ (formula defusing) comes off.

    Plain comprehensions: several times faster than pandas' .str methods on Python strings."""
    raw = series.to_numpy(dtype=object)
    try:
        joined = "\x00".join(raw)
    except TypeError:
        joined = None
    if joined is not None and not _NEEDS_STRIP.search(joined):
        # The usual case: nothing to trim or unquote, found by one regex scan in C.
        return pd.Series(raw, index=series.index, dtype=object)
    values = [v.strip() if isinstance(v, str) else str(v).strip() for v in raw]
    for i in [i for i, v in enumerate(values) if v[:1] == "'"]:
        if values[i][1:2] in ("=", "+", "-", "@"):
            values[i] = values[i][1:]
    return pd.Series(values, index=series.index, dtype=object)


def fast_decimal(values: pd.Series, default: str | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(text, floats) when every cell is a plain number (or empty with a default), else None.

    The common case (an ERP extract) converts in C; anything else takes the careful path."""
    text = values.to_numpy(dtype=object)
    if default is not None:
        text = np.where(text == "", default, text)
    try:
        floats = text.astype(float)
    except (ValueError, TypeError):
        return None
    if not np.isfinite(floats).all():
        return None
    return text, floats


def decimal_comma_style(values: pd.Series, delimiter: str) -> bool | None:
    """Whether the column writes decimals with a comma: True, False, or None when nothing tells.

    A comma (or point) followed by other than exactly three digits at the end is a decimal separator; with
    both, the last one is. "1,234" alone is ambiguous: thousands, unless the file is semicolon-delimited
    (the European habit, where the comma is taken by decimals).
    """
    text = values[values != ""].str.replace(_SPACES, "", regex=True)
    if text.empty:
        return None
    comma_decimal = text.str.contains(r",\d{1,2}$|,\d{4,}$|\.\d{3},\d+$", regex=True).any()
    point_decimal = text.str.contains(r"\.\d{1,2}$|\.\d{4,}$|,\d{3}\.\d+$", regex=True).any()
    if comma_decimal != point_decimal:
        return bool(comma_decimal)
    if not comma_decimal and text.str.contains(",", regex=False).any():
        return delimiter == ";"
    if not comma_decimal and text.str.contains(".", regex=False).any():
        return False
    return None


def parse_decimal(values: pd.Series, *, decimal_comma: bool) -> tuple[pd.Series, pd.Series]:
    """(normalised text like -1234.5, bad mask) from what people type: 1.234,50 / 1,234.50 / 1 234,5 / (12).

    Normalised text keeps every digit (no float rounding); the database rounds to cents.
    """
    text = values.str.replace(_SPACES, "", regex=True)
    negative = text.str.match(r"^\(.*\)$")
    text = text.str.strip("()")
    if decimal_comma:
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        text = text.str.replace(",", "", regex=False)
    text = text.where(~negative, "-" + text)
    # Separators must sit where the convention puts them: "99,95" in a column that writes decimals with a
    # point is an error, not 9995.
    shape = _COMMA_DECIMAL if decimal_comma else _POINT_DECIMAL
    bad = (values != "") & ~(values.str.replace(_SPACES, "", regex=True).str.strip("()").str.match(shape))
    bad |= (values != "") & ~text.str.match(_PLAIN)
    return text.where(values != "", ""), bad


def parse_date(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(datetime64 series, bad mask): ISO 8601 dates (a time part is allowed and dropped)."""
    parsed = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
    other = parsed.isna() & (values != "")
    if other.any():
        rest = values[other]
        shaped = rest.str.match(_DATE)
        parsed[other] = pd.to_datetime(
            rest.str.slice(0, 10).where(shaped, None), format="%Y-%m-%d", errors="coerce"
        )
    # pandas reads "-2026-01-01" (and year 0) as a date no database or calendar has.
    impossible = (parsed.dt.year < 1).fillna(False)
    parsed = parsed.where(~impossible)
    bad = (values != "") & parsed.isna()
    return parsed, bad


def parse_int(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = values.str.replace(r"\.0+$", "", regex=True)
    ok = text.str.match(r"^-?\d{1,6}$")
    numbers = pd.to_numeric(text.where(ok, None), errors="coerce").astype("Int64")
    bad = (values != "") & ~ok
    return numbers, bad
