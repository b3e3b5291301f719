"""Field kinds as SQLite column types, and Python values to and from ``sqlite3``.

SQLite stores decimals, datetimes, dates, times, UUIDs and JSON as text:
datetimes in UTC with microseconds, so that text order is time order, and
decimals as their exact digits (:mod:`.functions` aggregates them exactly).
Enum columns are INTEGER when every member's value is an int, TEXT otherwise.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import operator
import uuid
from typing import Any

from dataflow.dialect import Codec
from dataflow.fields import FieldKind, FieldSchema

_COLUMN_TYPES = {
    FieldKind.STR: "TEXT",
    FieldKind.INT: "INTEGER",
    FieldKind.FLOAT: "REAL",
    FieldKind.BOOL: "INTEGER",
    FieldKind.BYTES: "BLOB",
    FieldKind.DECIMAL: "TEXT",
    FieldKind.DATETIME: "TEXT",
    FieldKind.DATE: "TEXT",
    FieldKind.TIME: "TEXT",
    FieldKind.UUID: "TEXT",
    FieldKind.JSON: "TEXT",
}


def _encode_datetime(value: dt.datetime) -> str:
    # Aware values are stored in UTC and all with microseconds, so that text order is time order.
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.isoformat(timespec="microseconds")


def _decode_datetime(text: str) -> dt.datetime:
    # Rows written before naive datetimes were taken as UTC hold naive text: they are UTC too.
    value = dt.datetime.fromisoformat(text)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _encode_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


_ENCODERS: dict[FieldKind, Codec] = {
    FieldKind.DECIMAL: str,
    FieldKind.DATETIME: _encode_datetime,
    FieldKind.DATE: dt.date.isoformat,
    FieldKind.TIME: dt.time.isoformat,
    FieldKind.UUID: str,
    FieldKind.JSON: _encode_json,
}


_DECODERS: dict[FieldKind, Codec] = {
    # SQLite hands back a REAL that holds a whole number as an int (RETURNING, for one).
    FieldKind.FLOAT: float,
    # SQLite keeps a value that does not convert to INTEGER (text such as 'x7') as it is: an int field
    # must never hand it out. operator.index (in C, so cheap) returns ints and raises TypeError for the
    # rest, which the core reports as a StoredValueError naming model, field and value.
    FieldKind.INT: operator.index,
    FieldKind.BOOL: bool,
    FieldKind.DECIMAL: decimal.Decimal,
    FieldKind.DATETIME: _decode_datetime,
    FieldKind.DATE: dt.date.fromisoformat,
    FieldKind.TIME: dt.time.fromisoformat,
    FieldKind.UUID: uuid.UUID,
    FieldKind.JSON: json.loads,
}


def _enum_value(value: enum.Enum) -> Any:
    return value.value


def column_type(field: FieldSchema) -> str:
    if field.column_type is not None:
        return field.column_type
    if field.kind is FieldKind.ENUM:
        assert field.enum_type is not None
        ints = all(isinstance(member.value, int) for member in field.enum_type)
        return "INTEGER" if ints else "TEXT"
    return _COLUMN_TYPES[field.kind]


def encoder(field: FieldSchema) -> Codec | None:
    if field.kind is FieldKind.ENUM:
        return _enum_value
    return _ENCODERS.get(field.kind)


def decoder(field: FieldSchema) -> Codec | None:
    if field.kind is FieldKind.ENUM:
        return field.enum_type
    return _DECODERS.get(field.kind)
