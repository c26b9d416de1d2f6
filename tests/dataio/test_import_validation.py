"""Every validation case of the import: each problem has a row, a column and a clear message, and a file
with any problem writes nothing."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, Order
from dataio.models import ImportStatus
from tests.factories import AccountFactory, OrderFactory
from tests.fixtures.imports import messages, run, xlsx_bytes

pytestmark = pytest.mark.django_db

HEADER = "account_reference,date,revenue,variable_cost,reference\n"


@pytest.fixture
def accounts(world):
    Account.objects.filter(pk=world.rep_account.pk).update(reference="C-1")
    Account.objects.filter(pk=world.other_account.pk).update(reference="C-2")
    return world


def orders(account_ref="C-1"):
    return list(
        Order.objects.filter(account__reference=account_ref)
        .order_by("reference", "date")
        .values_list("reference", "date", "revenue", "variable_cost")
    )


def test_missing_required_columns_are_named_and_nothing_is_read(accounts):
    record, result = run(
        "orders", "account_reference,date,variable_cost\nC-1,2025-01-01,5\n", user=accounts.manager
    )
    assert messages(result) == [
        (1, "revenue", "The required column revenue is missing: map a column of the file to it.")
    ]
    assert record.status == ImportStatus.FAILED
    assert Order.objects.count() == 0


def test_unknown_account_reference_is_reported_with_row_and_column(accounts):
    _, result = run("orders", HEADER + "C-1,2025-01-01,10,,A\nNOPE,2025-01-01,10,,B\n", user=accounts.manager)
    assert messages(result) == [(3, "account_reference", "No account with reference NOPE.")]
    assert Order.objects.count() == 0


def test_duplicate_references_inside_the_file_are_refused(accounts):
    text = HEADER + "C-1,2025-01-01,10,,SO-1\nC-2,2025-01-01,10,,SO-1\nC-1,2025-01-02,11,,SO-1\n"
    record, result = run("orders", text, user=accounts.manager)
    # the same reference at another account is another order; at the same account it is a repeat
    assert messages(result) == [
        (4, "reference", "Order SO-1 of account C-1 is already on row 2: each order may appear once.")
    ]
    assert record.rows_rejected == 1
    assert Order.objects.count() == 0


def test_duplicate_account_references_are_refused(world):
    text = "reference,name\nX-1,One\nX-2,Two\nX-1,One again\n"
    _, result = run("accounts", text, user=world.manager)
    assert messages(result) == [(4, "reference", "Account X-1 is already on row 2.")]
    assert not Account.objects.filter(reference__startswith="X-").exists()


def test_negative_amounts_are_refused(accounts):
    _, result = run(
        "orders", HEADER + "C-1,2025-01-01,-10,,A\nC-1,2025-01-01,10,-1,B\n", user=accounts.manager
    )
    assert messages(result) == [
        (2, "revenue", "-10 is negative: amounts must be 0 or more."),
        (3, "variable_cost", "-1 is negative: amounts must be 0 or more."),
    ]


def test_future_and_unparseable_dates_are_refused(accounts):
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    text = HEADER + f"C-1,{tomorrow},10,,A\nC-1,31/01/2025,10,,B\nC-1,2025-02-30,10,,C\nC-1,,10,,D\n"
    _, result = run("orders", text, user=accounts.manager)
    assert messages(result) == [
        (2, "date", f"{tomorrow} is in the future."),
        (3, "date", "31/01/2025 is not a date: write it as YYYY-MM-DD."),
        (4, "date", "2025-02-30 is not a date: write it as YYYY-MM-DD."),
        (5, "date", "The date is missing."),
    ]


def test_unreadable_number_names_the_convention(accounts):
    _, result = run(
        "orders", HEADER + "C-1,2025-01-01,12.50,,A\nC-1,2025-01-01,ten,,B\n", user=accounts.manager
    )
    assert messages(result) == [
        (3, "revenue", "ten is not a number (this file writes decimals with a point).")
    ]


@pytest.mark.parametrize(
    ("delimiter", "rows", "expected"),
    [
        # thousands separators and a decimal point, the English way (quoted because of the comma delimiter)
        (",", ['C-1,2025-01-01,"1,234.50",100,A', 'C-1,2025-01-02,"12,000",0.5,B'], ["1234.50", "12000.00"]),
        # decimal commas and points for thousands, the European way, semicolon-delimited
        (";", ["C-1;2025-01-01;1.234,50;100;A", "C-1;2025-01-02;12,5;0,5;B"], ["1234.50", "12.50"]),
        # spaces as thousands separators, tab-delimited
        ("\t", ["C-1\t2025-01-01\t1 234,50\t100\tA", "C-1\t2025-01-02\t7,25\t0\tB"], ["1234.50", "7.25"]),
    ],
)
def test_delimiters_thousands_separators_and_decimal_commas(accounts, delimiter, rows, expected):
    header = HEADER.replace(",", delimiter)
    record, result = run("orders", header + "\n".join(rows) + "\n", user=accounts.manager)
    assert result.ok, result.problems
    assert [str(r[2]) for r in orders()] == expected
    assert record.rows_created == 2


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp1252", b"")],
    ids=["utf8", "bom", "cp1252"],
)
def test_text_encodings_are_detected(world, encoding, prefix):
    content = prefix + "reference;name;region\nE-1;Café Zoë;Île-de-France\n".encode(encoding)
    _, result = run("accounts", content, user=world.manager)
    assert result.ok, result.problems
    account = Account.objects.get(reference="E-1")
    assert (account.name, account.region) == ("Café Zoë", "Île-de-France")


def test_a_stated_encoding_that_does_not_fit_is_refused_clearly(world):
    from dataio.imports.parsing import ImportFileError

    content = "reference,name\nE-1,Café\n".encode("cp1252")
    with pytest.raises(ImportFileError, match="not valid UTF-8"):
        run("accounts", content, user=world.manager, encoding="utf-8")
    assert not Account.objects.filter(reference="E-1").exists()


def test_a_number_against_the_files_convention_is_an_error_not_a_guess(accounts):
    _, result = run(
        "orders", HEADER + 'C-1,2025-01-01,1234.5,,A\nC-1,2025-01-01,"99,95",,B\n', user=accounts.manager
    )
    assert messages(result) == [
        (3, "revenue", "99,95 is not a number (this file writes decimals with a point).")
    ]


def test_excel_workbook_is_read_like_csv(accounts):
    content = xlsx_bytes(
        [
            ["account_reference", "date", "revenue", "variable_cost", "reference"],
            ["C-1", datetime.date(2025, 3, 1), 1234.5, 100, "X-1"],
            ["C-1", "2025-03-02", 99.95, None, "X-2"],
        ]
    )
    _, result = run("orders", content, user=accounts.manager, name="orders.xlsx")
    assert result.ok, result.problems
    assert orders() == [
        ("X-1", datetime.date(2025, 3, 1), Decimal("1234.50"), Decimal("100.00")),
        ("X-2", datetime.date(2025, 3, 2), Decimal("99.95"), Decimal("0.00")),
    ]


def test_a_failure_in_the_last_row_leaves_the_database_untouched(accounts):
    OrderFactory(account=accounts.rep_account, reference="OLD", revenue=Decimal("5"))
    before = orders()
    rows = [f"C-1,2025-01-{day:02d},{day}00,10,SO-{day}" for day in range(1, 28)]
    rows.append("C-1,2025-01-28,-1,10,SO-28")  # the last row is bad
    rows.insert(0, "C-1,2025-01-01,7,0,OLD")  # and an update that must not happen either
    record, result = run("orders", HEADER + "\n".join(rows) + "\n", user=accounts.manager)
    assert messages(result) == [(30, "revenue", "-1 is negative: amounts must be 0 or more.")]
    assert orders() == before
    assert (record.status, record.rows_created, record.rows_updated, record.rows_rejected) == (
        "failed",
        0,
        0,
        1,
    )


def test_accounts_all_or_nothing_includes_the_hierarchy(world):
    text = "reference,name,parent_reference\nH-1,Holding,\nH-2,Daughter,H-1\nH-3,Bad,NOWHERE\n"
    _, result = run("accounts", text, user=world.manager)
    assert messages(result) == [(4, "parent_reference", "No account with reference NOWHERE.")]
    assert not Account.objects.filter(reference__startswith="H-").exists()


def test_a_parent_loop_is_refused(world):
    text = "reference,name,parent_reference\nL-1,One,L-2\nL-2,Two,L-1\n"
    _, result = run("accounts", text, user=world.manager)
    assert {(p[0], p[1]) for p in messages(result)} == {(2, "parent_reference"), (3, "parent_reference")}
    assert "loop" in result.problems[0]["message"]


def test_ratings_and_owners_are_checked(world):
    text = "reference,name,owner,image_rating\nR-1,One,nobody@example.com,7\nR-2,Two,rep@example.com,5\n"
    _, result = run("accounts", text, user=world.manager)
    assert messages(result) == [
        (2, "image_rating", "7 is not a whole number from 1 to 5."),
        (2, "owner", "No active user with username or email nobody@example.com."),
    ]


def test_a_file_that_is_not_text_or_a_workbook_is_refused_by_content(world):
    from dataio.imports.parsing import ImportFileError
    from dataio.imports.service import import_start

    with pytest.raises(ImportFileError, match="not text"):
        import_start(
            kind="orders", user=world.manager, file_name="orders.csv", content=b"\x89PNG\r\n\x1a\n\x00\x00"
        )
    import zipfile
    from io import BytesIO

    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ImportFileError, match="not an Excel workbook"):
        import_start(kind="orders", user=world.manager, file_name="orders.xlsx", content=buffer.getvalue())


def test_a_workbook_named_csv_is_read_as_a_workbook(world):
    content = xlsx_bytes([["reference", "name"], ["W-1", "Workbook"]])
    record, result = run("accounts", content, user=world.manager, name="accounts.csv")
    assert result.ok
    assert record.file_format == "xlsx"
    assert Account.objects.filter(reference="W-1", name="Workbook").exists()


def test_the_size_limit_is_stated(world):
    from dataio.imports import service
    from dataio.imports.parsing import ImportFileError

    with pytest.raises(ImportFileError, match="the limit is"):
        service.import_start(
            max_bytes=100,
            kind="accounts",
            user=world.manager,
            file_name="a.csv",
            content=b"reference,name\n" * 20,
        )


def test_every_import_is_recorded_with_its_checksum(accounts):
    import hashlib

    content = (HEADER + "C-1,2025-01-01,10,,A\n").encode()
    record, _ = run("orders", content, user=accounts.manager, name="erp.csv")
    assert (record.created_by, record.file_name, record.kind) == (accounts.manager, "erp.csv", "orders")
    assert record.checksum == hashlib.sha256(content).hexdigest()
    assert (record.rows_total, record.rows_created, record.status) == (1, 1, ImportStatus.SUCCEEDED)


def test_rep_cannot_import_orders_onto_accounts_they_cannot_see(accounts):
    _, result = run("orders", HEADER + "C-2,2025-01-01,10,,A\n", user=accounts.rep)
    assert messages(result) == [(2, "account_reference", "No account with reference C-2.")]
    assert AccountFactory._meta.model.objects.get(reference="C-2").orders.count() == 0


@pytest.mark.parametrize("kind", ["accounts", "orders", "influencers", "visits"])
def test_a_file_with_only_a_header_is_refused_clearly(world, kind):
    from dataio.imports.service import IMPORTERS

    record, result = run(kind, ",".join(IMPORTERS[kind].field_names()) + "\n", user=world.manager)
    assert messages(result) == [(0, "", "The file has no rows under its header.")]
    assert record.status == ImportStatus.FAILED
