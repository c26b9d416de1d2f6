"""The UI tags' fast paths print exactly what Django's filters printed for the same values."""

import datetime
import random
import zoneinfo
from decimal import Decimal

import numpy as np
import pytest
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.html import format_html

from kam.templatetags import ui

NUMBERS = [
    0, 5, -5, 999, 1000, -1000, 1234567, -1234567, 10**12,
    0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -0.4, 0.49999, 1234.5, -1234.5, 999.5, -999.5, 1e15, 1234567.89, 1e-7,
    Decimal("0.5"), Decimal("-0.5"), Decimal("2.5"), Decimal("12345.678"), Decimal("-0.4"), Decimal("1E+3"),
    Decimal("0E-10"), Decimal("-0.00"), Decimal("999999.50"), Decimal("-1000000.49"), Decimal("1e25"),
    np.float64(1234.5), np.float64(-0.5), np.int64(-98765), np.float32(2.5),  # the dashboard's pandas values
]  # fmt: skip


def _numbers():
    rng = random.Random(7)
    yield from NUMBERS
    for _ in range(2000):
        yield Decimal(rng.randint(-(10**9), 10**9)) / Decimal(10 ** rng.randint(0, 4))
        yield rng.uniform(-1e7, 1e7)
        yield rng.randint(-(10**10), 10**10)


@pytest.mark.parametrize("plain", [True, False])
def test_money_prints_what_intcomma_of_floatformat_printed(plain):
    for value in _numbers():
        amount = intcomma(floatformat(value, 0))
        expected = (
            format_html('<span class="nowrap">{}</span>', amount)
            if plain
            else format_html('<span class="nowrap">{}&nbsp;{}</span>', "EUR", amount)
        )
        assert ui.money(value=value, plain=plain) == expected, value


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), Decimal("NaN"), Decimal("1e40"), "12.5", "n/a"]
)
def test_money_leaves_what_it_does_not_know_to_django(value):
    assert ui.money(value=value, plain=True) == format_html(
        '<span class="nowrap">{}</span>', intcomma(floatformat(value, 0))
    )


def _old_date(value):
    return format_html(
        '<time datetime="{}" class="nowrap">{}</time>',
        date_filter(value, "Y-m-d"),
        date_filter(value, "j M Y"),
    )


def test_date_prints_what_the_date_filter_printed():
    start = datetime.date(1999, 12, 25)
    for offset in range(0, 12_000, 7):
        day = start + datetime.timedelta(days=offset)
        assert ui.date(value=day) == _old_date(day)
        naive = datetime.datetime.combine(day, datetime.time(23, 59))
        assert ui.date(value=naive) == _old_date(naive)


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "America/New_York", "Pacific/Auckland"])
def test_a_datetime_shows_the_day_it_is_where_the_user_is(settings, zone):
    settings.TIME_ZONE = zone
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        # 23:30 UTC on 3 March is already 4 March in Amsterdam and Auckland, still 3 March in New York.
        moment = datetime.datetime(2025, 3, 3, 23, 30, tzinfo=datetime.UTC)
        local = timezone.localtime(moment)
        assert ui.date(value=moment) == _old_date(local.date())
        assert f">{local.day} Mar 2025<" in ui.date(value=moment)


def test_date_of_nothing_is_the_dash():
    assert ui.date(value=None) == ui.DASH
    assert ui.date(value="") == ui.DASH
