"""The audit list's filters: kind of record, person and date range."""

import datetime

from django import forms
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from audit.selectors import TRACKED


class AuditFilterForm(forms.Form):
    kind = forms.ChoiceField(
        required=False,
        label="Record",
        choices=[("", "All records")] + [(t.slug, t.label) for t in TRACKED.values()],
    )
    user = forms.ModelChoiceField(
        required=False,
        label="Changed by",
        empty_label="Anyone",
        queryset=User.objects.order_by("first_name", "last_name", "username"),
    )
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)

    def history_filter(self) -> Q:
        data = self.cleaned_data
        condition = Q()
        if data.get("user"):
            condition &= Q(history_user=data["user"])
        zone = timezone.get_current_timezone()
        if data.get("date_from"):
            start = datetime.datetime.combine(data["date_from"], datetime.time.min, tzinfo=zone)
            condition &= Q(history_date__gte=start)
        if data.get("date_to"):
            end = datetime.datetime.combine(
                data["date_to"] + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
            )
            condition &= Q(history_date__lt=end)
        return condition
