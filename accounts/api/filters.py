"""Query filters for the accounts API. An invalid value is a 400 problem naming the filter, never a 500."""

import django_filters

from accounts.models import Account, AlertKind, AlertStatus, CadenceAlert, Order, ServiceIssue, Tier
from kam.api.fields import IdFilter


class AccountFilter(django_filters.FilterSet):
    tier = django_filters.ChoiceFilter(choices=Tier.choices, help_text="The tier of the latest scoring run.")
    is_key = django_filters.BooleanFilter(help_text="Key accounts only (true) or the others (false).")
    owner = IdFilter(field_name="owner_id", help_text="The owner's user id.")
    region = django_filters.CharFilter(help_text="Exact region name.")
    industry = django_filters.CharFilter(help_text="Exact industry name.")
    reference = django_filters.CharFilter(help_text="The account's reference (your ERP customer number).")
    parent = IdFilter(field_name="parent_id", help_text="Subsidiaries of this account id.")
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Changed at or after this time (ISO 8601), for incremental syncs.",
    )
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", help_text="Part of the name.")

    class Meta:
        model = Account
        fields = []


class OrderFilter(django_filters.FilterSet):
    account = IdFilter(field_name="account_id", help_text="The account's id.")
    account_reference = django_filters.CharFilter(
        field_name="account__reference", help_text="The account's reference (your ERP customer number)."
    )
    reference = django_filters.CharFilter(help_text="The order's reference.")
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte", help_text="On or after.")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte", help_text="On or before.")

    class Meta:
        model = Order
        fields = []


class ServiceIssueFilter(django_filters.FilterSet):
    open = django_filters.BooleanFilter(
        field_name="resolved_on", lookup_expr="isnull", help_text="Unresolved problems only (true)."
    )

    class Meta:
        model = ServiceIssue
        fields = []


class CadenceAlertFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=AlertStatus.choices)
    kind = django_filters.ChoiceFilter(choices=AlertKind.choices)
    account = IdFilter(field_name="account_id", help_text="The account's id.")
    open = django_filters.BooleanFilter(method="filter_open", help_text="Open or acknowledged (true).")

    class Meta:
        model = CadenceAlert
        fields = []

    def filter_open(self, queryset, name, value):
        return queryset.open() if value else queryset.exclude(pk__in=queryset.open().values("pk"))
