"""The cadence pill: the visit-cadence status of accounts.cadence.status, drawn the way every page shows it."""

from django import template
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import timesince_filter
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from accounts import cadence

register = template.Library()

LABELS = {cadence.LAPSED: "Lapsed", cadence.OK: "On track"}


@register.simple_tag(takes_context=True)
def cadence_pill(context, due=None, today=None, soon=None, with_date=False):
    """None / lapsed / due (by `soon`, which defaults to the page's `soon`, else a week ahead) / on track, as
    accounts.cadence.status decides; with_date=True adds how overdue, or when."""
    state = cadence.status(due, today, soon=soon or context.get("soon"))
    if state == cadence.NONE:
        return mark_safe('<span class="pill pill--none">No cadence</span>')
    if state == cadence.DUE:
        pill = format_html(
            '<span class="pill pill--due">{}</span>', "Due today" if due == today else "Due soon"
        )
        if with_date and due != today:
            return format_html(
                '{} <span class="small muted nowrap">{}</span>', pill, date_filter(due, "D j M")
            )
        return pill
    pill = format_html('<span class="pill pill--{}">{}</span>', state, LABELS[state])
    if not with_date:
        return pill
    if state == cadence.LAPSED:
        return format_html(
            '{} <span class="small overdue nowrap">{} overdue</span>', pill, timesince_filter(due, today)
        )
    return format_html('{} <span class="small muted nowrap">next {}</span>', pill, date_filter(due, "j M"))
