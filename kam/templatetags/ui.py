"""The small pieces of UI every page repeats (badges, pills, dates, money, percents), as template tags.

They were `{% include "includes/....html" with ... %}` snippets. An include costs ~75 µs (a new context, a
template lookup, a render); a list row, My day and the account page use several per row, which made them a
fifth of a page's CPU. The output is unchanged: the same markup, built with `format_html` (which escapes).

Every tag takes the keyword arguments the snippet took, e.g. `{% money value=orders.revenue_12m plain=True %}`,
and a missing or empty value renders as the muted dash where the snippet did. Registered as a template builtin
(settings.TEMPLATES), so no `{% load %}` is needed.
"""

import datetime
import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()

DASH = mark_safe('<span class="muted">&mdash;</span>')
DOT_ON, DOT_OFF = mark_safe('<i class="on"></i>'), mark_safe("<i></i>")


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WHOLE = Decimal(1)


def _empty(value) -> bool:
    return value is None or value == ""


def _pct(value) -> str:
    """What `{% widthratio value 1 100 %}` printed: a fraction as a rounded whole percent."""
    try:
        return str(round(float(value) * 100))
    except (ValueError, TypeError, OverflowError):
        return ""


@register.simple_tag
def tier_badge(tier=None):
    """A tier letter with a distinct colour per tier."""
    if not tier:
        return mark_safe(
            '<span class="tier tier--none" title="Not scored yet">n/a'
            '<span class="visually-hidden"> (not scored yet)</span></span>'
        )
    return format_html(
        '<span class="tier tier--{}" title="Tier {}{}"><span class="visually-hidden">Tier </span>{}</span>',
        str(tier).lower(),
        tier,
        " (key)" if tier == "A" else "",
        tier,
    )


@register.simple_tag
def key_badge(is_key=False, short=False):
    """The key-account star ("Key account", or "Key" with short=True); nothing for other accounts."""
    if not is_key:
        return ""
    return format_html(
        '<span class="badge badge--key"><span class="star" aria-hidden="true">&#9733;</span> Key{}</span>',
        "" if short else " account",
    )


def _day(value) -> datetime.date | None:
    """A date, or a datetime as the date it is in the current time zone; None for anything else."""
    if isinstance(value, datetime.datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).date()
    if isinstance(value, datetime.date):
        return value
    return None


@register.simple_tag
def date(value=None):
    """One date format everywhere ("3 Mar 2025"), with a machine-readable <time>. A datetime shows the day it
    is in the current time zone.

    Built directly rather than through Django's date filter, which parses its format string on every call:
    a list shows a date on every row, and the filter was a tenth of the row's time.
    """
    if not value:
        return DASH
    day = _day(value)
    if day is None:
        return format_html(
            '<time datetime="{}" class="nowrap">{}</time>',
            date_filter(value, "Y-m-d"),
            date_filter(value, "j M Y"),
        )
    return format_html(
        '<time datetime="{}" class="nowrap">{} {} {}</time>',
        day.isoformat(),
        day.day,
        MONTHS[day.month - 1],
        day.year,
    )


def _whole_number(value) -> str | None:
    """What intcomma(floatformat(value, 0)) prints for an int, float or Decimal (half away from zero,
    thousands separated by commas, never "-0"); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = Decimal(str(value))  # as floatformat reads it (str, not repr: numpy floats print their type)
    if not isinstance(value, Decimal) or not value.is_finite():
        return None
    try:
        whole = value.quantize(WHOLE, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than the decimal context holds
        return None
    return f"{whole:,}" if whole else "0"


@register.simple_tag
def money(value=None, plain=False):
    """Money in the house currency, whole units with thousands separators (plain=True: no currency, for
    tiles whose label names it)."""
    if _empty(value):
        return DASH
    amount = _whole_number(value)
    if amount is None:
        amount = intcomma(floatformat(value, 0))
    if plain:
        return format_html('<span class="nowrap">{}</span>', amount)
    return format_html('<span class="nowrap">{}&nbsp;{}</span>', settings.KAM_CURRENCY, amount)


@register.simple_tag
def percent(value=None, signed=False):
    """A 0..1 fraction as a whole percent (signed=True adds "+")."""
    if _empty(value):
        return DASH
    return format_html('<span class="nowrap">{}{}%</span>', "+" if signed and value > 0 else "", _pct(value))


@register.simple_tag
def growth(value=None):
    """Revenue growth as a coloured, signed percent with an arrow."""
    if _empty(value):
        return mark_safe(
            '<span class="muted" title="No revenue in the previous 12 months to compare with">&mdash;</span>'
        )
    if value > 0:
        return format_html(
            '<span class="delta delta--up"><span aria-hidden="true">&#9650;</span> +{}%</span>', _pct(value)
        )
    if value < 0:
        return format_html(
            '<span class="delta delta--down"><span aria-hidden="true">&#9660;</span> {}%</span>', _pct(value)
        )
    return mark_safe('<span class="delta delta--flat">0%</span>')


@register.simple_tag
def score_change(value=None):
    """Change of score at the last scoring run."""
    if _empty(value):
        return DASH
    if value > 0:
        return format_html(
            '<span class="delta delta--up"><span aria-hidden="true">&#9650;</span> +{}</span>',
            floatformat(value, 1),
        )
    if value < 0:
        return format_html(
            '<span class="delta delta--down"><span aria-hidden="true">&#9660;</span> {}</span>',
            floatformat(value, 1),
        )
    return mark_safe('<span class="delta delta--flat">&plusmn;0</span>')


@register.simple_tag
def dots(value=None):
    """A 1-5 rating as five dots."""
    if _empty(value):
        return DASH
    marks = format_html_join("", "{}", ((DOT_ON if i <= value else DOT_OFF,) for i in range(1, 6)))
    return format_html(
        '<span class="dots" role="img" aria-label="{} of 5" title="{} of 5">{}</span>', value, value, marks
    )


@register.simple_tag
def stance(person):
    """Stance towards us, champion to opponent."""
    kind = "positive" if person.stance > 0 else "negative" if person.stance < 0 else "neutral"
    return format_html('<span class="badge stance--{}">{}</span>', kind, person.get_stance_display())
