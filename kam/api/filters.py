"""The query-filter backend every API list uses: an empty value for a typed filter is a 400, not "no filter"."""

from __future__ import annotations

from django import forms
from django_filters import utils
from django_filters.rest_framework import DjangoFilterBackend


class FilterBackend(DjangoFilterBackend):
    """django-filter, plus one rule: `?updated_since=` or `?owner=` is refused, naming the parameter.

    django-filter reads an empty value as "this filter is off", so a client whose variable came out empty
    (`updated_since=` on a first sync gone wrong) silently gets everything. The schema documents these
    parameters as a date-time, an integer, a boolean or one of a list, which an empty string is not; only
    text filters (`q`, `region`, ...) take an empty string, which matches as the filter says.
    """

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        valid = filterset.is_valid()
        for name, field in filterset.form.fields.items():
            value = request.query_params.get(filterset.form.add_prefix(name))
            blank = value is not None and not value.strip()
            if blank and not isinstance(field, forms.CharField) and name not in filterset.form.errors:
                filterset.form.add_error(name, "Give a value, or leave the parameter out.")
                valid = False
        if not valid:
            raise utils.translate_validation(filterset.errors)
        return filterset.qs
