"""Values that replace personal data: they say nothing about the person, and stay unique per record."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dataflow.fields import FieldKind, FieldSchema
from dataflow.schema import ModelSchema

_PLAIN_VALUES: dict[FieldKind, Any] = {
    FieldKind.INT: 0,
    FieldKind.FLOAT: 0.0,
    FieldKind.BOOL: False,
    FieldKind.DATE: dt.date(1970, 1, 1),
    FieldKind.DATETIME: dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
}


def anonymized(schema: ModelSchema, field: FieldSchema, key: Any) -> Any:
    """A value that says nothing about the person, unique per record (unique e-mail columns stay unique)."""
    if field.kind is FieldKind.STR:
        text = f"erased-{schema.name.lower()}-{key}-{field.name}"
        return text[: field.max_length] if field.max_length else text
    if field.nullable:
        return None
    if field.kind in _PLAIN_VALUES:
        return _PLAIN_VALUES[field.kind]
    return field.make_default()


def personal_of(schema: ModelSchema) -> list[FieldSchema]:
    return [f for f in schema.fields if f.personal]
