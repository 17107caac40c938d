"""Serializer fields built once per class, and copied cheaply for each instance.

A ModelSerializer works out its fields from the model on every instance, and for a small response (one order) that
is most of its cost. The fields are built once here and each instance gets copies, as DRF already does with
declared fields, since an instance binds its fields to itself.

DRF copies a field by deepcopy, which builds it anew from deep copies of its arguments: profiling a placed order
over REST showed the two serializers' copies (request and response) taking an eighth of the request's CPU. An
unbound field built from plain values only (strings, numbers, lazy translations, lists of choices, validators)
holds nothing a request changes in place — binding and validation assign attributes of their own — so a shallow
copy serves as well. A serializer, a field with another field inside (a ListField's child), or a field with any
other argument is deep-copied as DRF does.
"""

import copy
import re
from decimal import Decimal

from django.utils.functional import Promise
from rest_framework.fields import Field
from rest_framework.serializers import BaseSerializer

_PLAIN = (str, int, float, Decimal, bool, type(None), Promise, re.Pattern)
_SHARED_BY_DRF = ("validators", "regex")  # arguments DRF's own deepcopy of a field passes on uncopied


def field_copies(fields: dict[str, Field]) -> dict[str, Field]:
    """Copies of `fields` (name -> field, none of them bound: a class's templates) for one serializer instance."""
    return {name: _copy(field) for name, field in fields.items()}


def _copy(field: Field) -> Field:
    if isinstance(field, BaseSerializer):
        return copy.deepcopy(field)
    arguments = [*field._args, *(value for key, value in field._kwargs.items() if key not in _SHARED_BY_DRF)]
    return copy.copy(field) if all(map(_plain, arguments)) else copy.deepcopy(field)


def _plain(value) -> bool:
    """An immutable value, or a list or tuple of them (a ChoiceField's choices)."""
    if isinstance(value, (list, tuple)):
        return all(map(_plain, value))
    return isinstance(value, _PLAIN)


class FieldsBuiltOnce:
    """For a ModelSerializer: its fields worked out once per class."""

    def get_fields(self):
        cls = type(self)
        if "_fields_template" not in cls.__dict__:
            cls._fields_template = super().get_fields()
        return field_copies(cls._fields_template)


class DeclaredFieldsCopiedCheaply:
    """For a plain Serializer: its declared fields copied as field_copies does."""

    def get_fields(self):
        return field_copies(self._declared_fields)
