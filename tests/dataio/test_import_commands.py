"""`python manage.py import_<kind> FILE [--dry-run]`: the browser's code path from the shell."""

import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account, Order
from dataio.models import ImportRecord
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders_file(tmp_path, world):
    AccountFactory(reference="C-1", owner=world.rep)
    path = tmp_path / "orders.csv"
    path.write_text("account_reference;date;revenue;variable_cost;reference\nC-1;2025-01-01;1.000,50;;SO-1\n")
    return path


def test_dry_run_checks_counts_and_writes_nothing(orders_file, capsys):
    call_command("import_orders", str(orders_file), "--dry-run")
    assert (
        "Would create 1, updated 0, unchanged 0 of 1 rows (dry run: nothing written)."
        in capsys.readouterr().out
    )
    assert Order.objects.count() == 0
    assert ImportRecord.objects.get().status == "checked"


def test_import_then_reimport_from_the_shell(orders_file, capsys):
    call_command("import_orders", str(orders_file), "--json")
    first = json.loads(capsys.readouterr().out)
    call_command("import_orders", str(orders_file), "--json")
    second = json.loads(capsys.readouterr().out)
    assert (first["created"], second["created"], second["unchanged"]) == (1, 0, 1)
    assert str(Order.objects.get().revenue) == "1000.50"


def test_a_broken_file_fails_with_every_problem_and_writes_nothing(tmp_path, world, capsys):
    path = tmp_path / "accounts.csv"
    path.write_text("reference,name,image_rating\nA-1,Fine,3\nA-2,,9\n")
    with pytest.raises(CommandError, match="2 problem\\(s\\) in 1 row\\(s\\): nothing was written"):
        call_command("import_accounts", str(path), "--user", "manager")
    err = capsys.readouterr().err
    assert "row 3, image_rating: 9 is not a whole number from 1 to 5." in err
    assert "row 3, name: The name is missing." in err
    assert not Account.objects.filter(reference__startswith="A-").exists()
    assert ImportRecord.objects.get().created_by == world.manager


def test_dry_run_of_every_kind(tmp_path, world):
    AccountFactory(reference="C-1", owner=world.rep)
    files = {
        "accounts": "reference,name\nZ-1,Zed\n",
        "influencers": "account_reference,name\nC-1,Ann\n",
        "visits": "account_reference,date,summary\nC-1,2025-01-01,Met\n",
    }
    for kind, text in files.items():
        path = tmp_path / f"{kind}.csv"
        path.write_text(text)
        call_command(f"import_{kind}", str(path), "--dry-run")
    assert list(ImportRecord.objects.values_list("status", flat=True)) == ["checked"] * 3
    assert not Account.objects.filter(reference="Z-1").exists()


def test_missing_file_and_unknown_user_are_clear(tmp_path, world):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_orders", str(tmp_path / "nope.csv"))
    (tmp_path / "a.csv").write_text("reference,name\n")
    with pytest.raises(CommandError, match="No user 'ghost'"):
        call_command("import_accounts", str(tmp_path / "a.csv"), "--user", "ghost")
