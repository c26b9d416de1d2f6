"""Exports: portfolio, accounts, influencers, visits and orders as CSV or Excel, streamed, scoped, filtered.

Each export is a header and a generator of rows over one queryset read in chunks, so a million orders never
sit in memory: CSV streams line by line (StreamingHttpResponse); Excel is written row by row by openpyxl's
write-only mode to a temporary file, which is then streamed (FileResponse) and deleted when closed.

The accounts, orders, influencers and visits exports use the import's column names first, so an export
imports back unchanged (a round trip); columns the import does not know follow and are ignored by it.
"""

import csv
import tempfile
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone

from accounts.models import Account, Order, Visit
from profiles.models import BuyingInfluencer
from scoring.engine import CRITERIA
from scoring.models import ScoreResult
from scoring.selectors import current_run

CSV = "csv"
XLSX = "xlsx"
FORMATS = (CSV, XLSX)
CHUNK = 2000


class _Echo:
    """A file-like object whose write() hands the CSV line back, so rows stream without a buffer."""

    def write(self, value):
        return value


def response(kind: str, fmt: str, header: Iterable[str], rows: Iterable[tuple]):
    filename = f"{kind}-{timezone.localdate():%Y-%m-%d}.{fmt}"
    if fmt == XLSX:
        return _xlsx_response(filename, kind, header, rows)
    writer = csv.writer(_Echo())
    lines = (writer.writerow(row) for row in _with_header(header, rows))
    out = StreamingHttpResponse(lines, content_type="text/csv")
    out["Content-Disposition"] = f'attachment; filename="{filename}"'
    return out


def _with_header(header, rows) -> Iterator:
    yield tuple(header)
    yield from rows


def _xlsx_response(filename: str, sheet_name: str, header, rows) -> FileResponse:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name[:31])
    for row in _with_header(header, rows):
        cells = []
        for value in row:
            # CSV text arrives formula-defused ('=...); in a workbook a typed string cell is never run, so the
            # text goes in exactly as it is.
            if isinstance(value, str) and value[:2] in ("'=", "'+", "'-", "'@"):
                value = value[1:]
            if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"
                cells.append(cell)
            else:
                cells.append(value)
        sheet.append(cells)
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it (and so deletes it) when sent
    workbook.save(handle)
    handle.seek(0)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def _text(value) -> str:
    return _cell(value or "")


def _user(user_id_username) -> str:
    return user_id_username or ""


def _decimal(value) -> str:
    return "" if value is None else f"{value:.2f}"


# --- The exports -------------------------------------------------------------------------------------------

ACCOUNT_COLUMNS = (
    "reference",
    "name",
    "parent_reference",
    "owner",
    "industry",
    "region",
    "image_rating",
    "partnership_rating",
    "country",
    "status",
    "tier",
    "score",
    "rank",
    "key",
    "last_contact",
    "next_due",
)


def account_rows(accounts: QuerySet[Account]) -> Iterator[tuple]:
    values = accounts.values_list(
        "reference",
        "name",
        "parent__reference",
        "owner__username",
        "industry",
        "region",
        "image_rating",
        "partnership_rating",
        "country",
        "status",
        "tier",
        "score",
        "rank",
        "is_key",
        "last_contact_date",
        "next_contact_due",
    )
    for row in values.iterator(chunk_size=CHUNK):
        (ref, name, parent, owner, industry, region, image, partner, country, status) = row[:10]
        tier, score, rank, is_key, last, due = row[10:]
        yield (
            _text(ref),
            _text(name),
            _text(parent),
            _text(owner),
            _text(industry),
            _text(region),
            "" if image is None else image,
            "" if partner is None else partner,
            country,
            status,
            tier,
            _decimal(score),
            "" if rank is None else rank,
            "yes" if is_key else "no",
            last.isoformat() if last else "",
            due.isoformat() if due else "",
        )


ORDER_COLUMNS = ("account_reference", "date", "revenue", "variable_cost", "reference", "account_name")


def order_rows(accounts: QuerySet[Account]) -> Iterator[tuple]:
    orders = (
        Order.objects.filter(account__in=accounts.order_by().values("pk"))
        .order_by("account__reference", "date", "id")
        .values_list("account__reference", "date", "revenue", "variable_cost", "reference", "account__name")
    )
    for ref, date, revenue, cost, reference, name in orders.iterator(chunk_size=CHUNK):
        yield (_text(ref), date.isoformat(), _decimal(revenue), _decimal(cost), _text(reference), _text(name))


INFLUENCER_COLUMNS = (
    "account_reference",
    "reference",
    "name",
    "title",
    "function",
    "buying_role",
    "influence",
    "stance",
    "reports_to_reference",
    "site",
    "is_active",
    "last_contact",
)


def influencer_rows(accounts: QuerySet[Account]) -> Iterator[tuple]:
    people = (
        BuyingInfluencer.objects.filter(account__in=accounts.order_by().values("pk"))
        .order_by("account__reference", "name", "id")
        .values_list(
            "account__reference",
            "reference",
            "name",
            "title",
            "function",
            "buying_role",
            "influence",
            "stance",
            "reports_to__reference",
            "reports_to__name",
            "site",
            "is_active",
            "last_contact_date",
        )
    )
    for row in people.iterator(chunk_size=CHUNK):
        (ref, reference, name, title, function, role, influence, stance, boss_ref, boss_name) = row[:10]
        site, active, last = row[10:]
        yield (
            _text(ref),
            _text(reference),
            _text(name),
            _text(title),
            _text(function),
            role,
            influence,
            stance,
            _text(boss_ref or boss_name),
            _text(site),
            "yes" if active else "no",
            last.isoformat() if last else "",
        )


VISIT_COLUMNS = (
    "account_reference",
    "date",
    "kind",
    "summary",
    "logged_by",
    "next_steps",
    "follow_up_date",
    "cost",
)


def visit_rows(accounts: QuerySet[Account]) -> Iterator[tuple]:
    visits = (
        Visit.objects.filter(account__in=accounts.order_by().values("pk"))
        .order_by("account__reference", "date", "id")
        .values_list(
            "account__reference",
            "date",
            "kind",
            "summary",
            "logged_by__username",
            "next_steps",
            "follow_up_date",
            "cost",
        )
    )
    for ref, date, kind, summary, logged_by, next_steps, follow_up, cost in visits.iterator(chunk_size=CHUNK):
        yield (
            _text(ref),
            date.isoformat(),
            kind,
            _text(summary),
            _text(logged_by),
            _text(next_steps),
            follow_up.isoformat() if follow_up else "",
            "" if cost is None else str(cost),
        )


def portfolio_columns() -> tuple[str, ...]:

    per_criterion = tuple(f"{c}_{part}" for c in CRITERIA for part in ("value", "norm", "points"))
    return ("rank", "tier", "account_reference", "account_name", "owner", "score", *per_criterion, "missing")


def portfolio_rows(accounts: QuerySet[Account]) -> Iterator[tuple]:
    """The current run's score of each account with its breakdown: per criterion the raw value, the
    percentile-normalised value and the points (points = 100 x weight x norm; they add up to the score)."""

    run = current_run()
    if run is None:
        return
    raw = {"cm": "cm", "cm_pct": "cm_pct", "clv": "clv", "growth": "growth"}
    fields = []
    for c in CRITERIA:
        fields += [raw.get(c, c), f"{c}_norm", f"{c}_points"]
    results = (
        ScoreResult.objects.filter(run=run, account__in=accounts.order_by().values("pk"))
        .order_by("rank", "account_id")
        .values_list(
            "rank",
            "tier",
            "account__reference",
            "account__name",
            "account__owner__username",
            "score",
            *fields,
            "missing",
        )
    )
    for row in results.iterator(chunk_size=CHUNK):
        rank, tier, ref, name, owner, score = row[:6]
        values = ["" if v is None else (round(v, 6) if isinstance(v, float) else v) for v in row[6:-1]]
        yield (rank, tier, _text(ref), _text(name), _text(owner), round(score, 2), *values, row[-1])


EXPORTS = {
    "accounts": (ACCOUNT_COLUMNS, account_rows),
    "orders": (ORDER_COLUMNS, order_rows),
    "influencers": (INFLUENCER_COLUMNS, influencer_rows),
    "visits": (VISIT_COLUMNS, visit_rows),
}


# --- CSV export --------------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "reference",
    "name",
    "owner",
    "tier",
    "score",
    "rank",
    "key",
    "region",
    "industry",
    "last contact",
    "next due",
)


def export_rows(accounts: QuerySet[Account]):
    """The account list as CSV rows (header first), read in chunks so any portfolio size streams."""
    yield EXPORT_COLUMNS
    for a in accounts.iterator(chunk_size=2000):
        owner = (a.owner.get_full_name() or a.owner.username) if a.owner else ""
        yield (
            _cell(a.reference),
            _cell(a.name),
            _cell(owner),
            a.tier,
            "" if a.score is None else f"{a.score:.2f}",
            "" if a.rank is None else a.rank,
            "yes" if a.is_key else "no",
            _cell(a.region),
            _cell(a.industry),
            a.last_contact_date.isoformat() if a.last_contact_date else "",
            a.next_contact_due.isoformat() if a.next_contact_due else "",
        )


def _cell(text: str) -> str:
    """Text a spreadsheet must not run as a formula (CSV injection): a leading = + - @ gets a quote."""
    return "'" + text if text and text[0] in "=+-@\t\r" else text
