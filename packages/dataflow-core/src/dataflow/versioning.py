"""Optimistic locking: the ``version`` column of a model declared ``__dataflow__ = {"versioned": True}``.

The column is an int, 1 on insert. Update, Upsert and BulkUpdate check it
(``WHERE version = <given>``, ``ConcurrentUpdateError`` on a stale one) and
increment it (``SET version = version + 1``); they read
:attr:`ModelSchema.version_field`, which this module sets.
"""

from __future__ import annotations

import attrs

from .errors import ConfigError
from .fields import FieldKind, FieldSchema
from .schema import ModelSchema

VERSION_FIELD = "version"


def add_version_field(schema: ModelSchema) -> ModelSchema:
    """A versioned model's schema with its ``version`` column and ``version_field``; others unchanged.

    A ``version`` field the class (or a schema extension) declared is adopted
    when it is a non-null int; anything else there is a ``ConfigError``.
    """
    if not schema.options.get("versioned"):
        return schema
    existing = schema.by_name.get(VERSION_FIELD)
    if existing is None:
        fields = (*schema.fields, FieldSchema(name=VERSION_FIELD, kind=FieldKind.INT, default=1))
    elif existing.kind is not FieldKind.INT or existing.nullable or existing.primary_key:
        raise ConfigError(
            f"{schema.name}.{VERSION_FIELD} must be a non-null int on a versioned model "
            "(or leave it out: DataFlow adds it)",
            model=schema.name,
            field=VERSION_FIELD,
        )
    else:
        fields = tuple(attrs.evolve(f, default=1) if f is existing and not f.has_default else f for f in schema.fields)
    return attrs.evolve(schema, fields=fields, version_field=VERSION_FIELD)
