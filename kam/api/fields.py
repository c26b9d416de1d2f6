"""Ids in URLs, filters and bodies: never a number the database cannot hold."""

from __future__ import annotations

import django_filters
from django import forms
from django.urls import register_converter
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# --- Ids: in URLs, filters and bodies, never a number the database cannot hold ---------------------------

MAX_ID = 2**63 - 1
# How the schema documents an id wherever a client sends one: what IdField and the URL converter accept.
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
# Up to 18 digits always fits a 64-bit id column; a longer "id" names nothing (404), never a database error.
ID_REGEX = "[0-9]{1,18}"


class IdConverter:
    regex = ID_REGEX

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)


register_converter(IdConverter, "id")


class IdRelatedField(serializers.PrimaryKeyRelatedField):
    """A related object by id; an id out of range is "does not exist", not an overflow in the database."""

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool) and not 1 <= data <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


# --- Filters ---------------------------------------------------------------------------------------------


class IdField(forms.IntegerField):
    """A database id: a whole number from 1 to the 64-bit maximum (anything else is a 400, never an overflow)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


@extend_schema_field(ID_SCHEMA)
class IdFilter(django_filters.NumberFilter):
    """Filter by an id. django-filter's NumberFilter takes any decimal, e.g. 1e300, which no id column holds."""

    field_class = IdField
