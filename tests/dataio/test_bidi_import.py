"""An import refuses bidirectional controls in names and references, as the forms and the API do."""

import pytest

from accounts.models import Account
from accounts.validators import BIDI_MESSAGE
from dataio.models import ImportStatus
from tests.fixtures.imports import messages, run

pytestmark = pytest.mark.django_db


def test_an_accounts_import_with_a_spoofing_name_is_refused_naming_the_row(world):
    text = "reference,name,region\nX-1,Plain Co,North\nX-2,Acme\u202egnp.exe,North\nX-\u20663,Third,\u200fSouth\n"
    record, result = run("accounts", text, user=world.manager)
    assert messages(result) == [
        (3, "name", BIDI_MESSAGE),
        (4, "reference", BIDI_MESSAGE),
        (4, "region", BIDI_MESSAGE),
    ]
    assert record.status == ImportStatus.FAILED
    assert not Account.objects.filter(reference__startswith="X-").exists()


def test_a_long_visit_summary_is_not_a_name_and_keeps_its_marks(world):
    Account.objects.filter(pk=world.rep_account.pk).update(reference="C-1")
    text = "account_reference,date,summary\nC-1,2026-01-05,Met \u200f\u05e9\u05dc\u05d5\u05dd\u200f about the renewal\n"
    _, result = run("visits", text, user=world.manager)
    assert messages(result) == []
