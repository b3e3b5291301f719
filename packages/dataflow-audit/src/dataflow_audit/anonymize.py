"""Values that replace personal data: they say nothing about the person, and stay unique per record."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from dataflow.fields import FieldKind, FieldSchema
from dataflow.schema import ModelSchema

_PLAIN_VALUES: dict[FieldKind, Any] = {
    FieldKind.INT: 0,
    FieldKind.FLOAT: 0.0,
    FieldKind.BOOL: False,
    FieldKind.DATE: dt.date(1970, 1, 1),
    FieldKind.DATETIME: dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    FieldKind.TIME: dt.time(0, 0),
    FieldKind.DECIMAL: decimal.Decimal(0),
    FieldKind.BYTES: b"",
}
_ERASED = uuid.UUID("00000000-0000-0000-0000-000000000000")


def anonymized(schema: ModelSchema, field: FieldSchema, key: Any) -> Any:
    """A value that says nothing about the person, unique per record (unique e-mail columns stay unique)."""
    if field.kind is FieldKind.STR:
        text = f"erased-{schema.name.lower()}-{key}-{field.name}"
        return text[: field.max_length] if field.max_length else text
    if field.nullable:
        return None
    if field.kind in _PLAIN_VALUES:
        return _PLAIN_VALUES[field.kind]
    if field.kind is FieldKind.UUID:
        # Derived from the record, not the person: unique per record, so a unique column stays unique.
        return uuid.uuid5(_ERASED, f"erased-{schema.name}-{key}-{field.name}")
    if field.kind is FieldKind.ENUM and field.enum_type is not None and not field.has_default:
        return next(iter(field.enum_type))
    if field.kind is FieldKind.JSON and not field.has_default:
        return [] if field.element_kind is not None else {}
    return field.make_default()


def personal_of(schema: ModelSchema) -> list[FieldSchema]:
    return [f for f in schema.fields if f.personal]
