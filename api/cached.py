"""Serializer fields built once per class.

A ModelSerializer works out its fields from the model on every instance, and for a small response (one order) that
is most of its cost. The fields are built once here and each instance gets copies, as DRF already does with
declared fields, since an instance binds its fields to itself.
"""

import copy


class FieldsBuiltOnce:
    def get_fields(self):
        cls = type(self)
        if "_fields_template" not in cls.__dict__:
            cls._fields_template = super().get_fields()
        return copy.deepcopy(cls._fields_template)
