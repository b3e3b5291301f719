"""How each DataFlow field kind is stored in PostgreSQL, and how values cross asyncpg.

asyncpg converts most types natively (int, float, Decimal, bool, bytes,
date, time, aware datetimes). What is left:

- ``UUID``: asyncpg returns a subclass; values come back as ``uuid.UUID``.

- ``datetime``: columns are ``TIMESTAMPTZ``. A naive datetime is taken as
  UTC (asyncpg would take it as the client's local time); values come back
  aware, in UTC.
- ``time``: columns are ``TIME`` (without zone); the core refuses an aware
  time on every backend rather than silently losing its offset.
- JSON (``dict``/``list``): ``JSONB``, sent and read as JSON text so that
  the same encoded rows serve bound parameters, arrays and binary COPY.
- Arrays (``Annotated[list[int], Array()]``, ``list[str]``/``list[float]``/
  ``list[bool]``): ``BIGINT[]``, ``TEXT[]``, ``DOUBLE PRECISION[]``,
  ``BOOLEAN[]``. asyncpg sends and reads Python lists natively, so the JSON
  codec is not applied.
  A ``list[int]`` without ``Array()`` stays ``JSONB``.
- Enums: ``TEXT`` with a CHECK listing the values (``BIGINT`` when every
  value is an int); read back as the enum member.
- ``str``: PostgreSQL text cannot hold NUL (``\\x00``); the core refuses it
  (in text and JSON) on every backend, before any SQL.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from typing import Any

from dataflow.dialect import Codec
from dataflow.fields import FieldKind, FieldSchema

_COLUMN_TYPES = {
    FieldKind.STR: "TEXT",
    FieldKind.INT: "BIGINT",
    FieldKind.FLOAT: "DOUBLE PRECISION",
    FieldKind.BOOL: "BOOLEAN",
    FieldKind.BYTES: "BYTEA",
    FieldKind.DECIMAL: "NUMERIC",
    FieldKind.DATETIME: "TIMESTAMPTZ",
    FieldKind.DATE: "DATE",
    FieldKind.TIME: "TIME",
    FieldKind.UUID: "UUID",
    FieldKind.JSON: "JSONB",
}

# Column types of fields declared Array(), by element kind.
_ARRAY_COLUMN_TYPES = {
    FieldKind.STR: "TEXT[]",
    FieldKind.INT: "BIGINT[]",
    FieldKind.FLOAT: "DOUBLE PRECISION[]",
    FieldKind.BOOL: "BOOLEAN[]",
}

# Element type names for typed arrays (``$1::int8[]``) in unnest statements.
_ARRAY_TYPES = {
    FieldKind.STR: "text",
    FieldKind.INT: "int8",
    FieldKind.FLOAT: "float8",
    FieldKind.BOOL: "bool",
    FieldKind.BYTES: "bytea",
    FieldKind.DECIMAL: "numeric",
    FieldKind.DATETIME: "timestamptz",
    FieldKind.DATE: "date",
    FieldKind.TIME: "time",
    FieldKind.UUID: "uuid",
    FieldKind.JSON: "jsonb",
}


def is_array(field: FieldSchema) -> bool:
    """Is ``field`` stored as a native array column (declared ``Array()``)?"""
    return field.array and field.element_kind is not None


def integer_enum(field: FieldSchema) -> bool:
    assert field.enum_type is not None
    return all(type(member.value) is int for member in field.enum_type)


def sql_literal(text: str) -> str:
    """A string literal for DDL (enum CHECKs), where parameters cannot be bound.

    Only ever used on values declared in model code, never on node input.
    ``standard_conforming_strings`` is on in every supported server, so
    doubling quotes is the whole escape.
    """
    if "\x00" in text:
        raise ValueError("PostgreSQL text cannot contain NUL characters")
    return "'" + text.replace("'", "''") + "'"


def column_type(field: FieldSchema, quoted_name: str) -> str:
    """The column type of ``field`` in CREATE TABLE (enums carry their CHECK)."""
    if field.kind is FieldKind.ENUM:
        return f"{plain_type(field)} {enum_check(field, quoted_name)}"
    return plain_type(field)


def plain_type(field: FieldSchema) -> str:
    """The type of ``field``'s column alone, without an enum's CHECK (for ``ALTER COLUMN ... TYPE``)."""
    if field.column_type is not None:
        return field.column_type
    if is_array(field):
        assert field.element_kind is not None
        return _ARRAY_COLUMN_TYPES[field.element_kind]
    if field.kind is FieldKind.ENUM:
        return "BIGINT" if integer_enum(field) else "TEXT"
    if field.kind is FieldKind.STR and field.max_length is not None:
        return f"VARCHAR({field.max_length})"
    return _COLUMN_TYPES[field.kind]


def enum_values(field: FieldSchema) -> frozenset[str] | None:
    """The values an enum column admits, as text (``"1"`` for an int member); None for other kinds."""
    if field.kind is not FieldKind.ENUM:
        return None
    assert field.enum_type is not None
    if integer_enum(field):
        return frozenset(str(int(member.value)) for member in field.enum_type)
    return frozenset(str(member.value) for member in field.enum_type)


def enum_check(field: FieldSchema, quoted_name: str) -> str:
    """``CHECK (col IN (...))`` listing an enum's values."""
    assert field.enum_type is not None
    if integer_enum(field):
        values = ", ".join(str(int(member.value)) for member in field.enum_type)
    else:
        values = ", ".join(sql_literal(str(member.value)) for member in field.enum_type)
    return f"CHECK ({quoted_name} IN ({values}))"


def check_name(table: str, column: str) -> str:
    """The name PostgreSQL gives a column's unnamed CHECK: ``<table>_<column>_check``, shortened as it does.

    The server's ``makeObjectName`` trims the longer of the two names, one
    character at a time, until the whole fits in 63 bytes.
    """
    first, second = table.encode(), column.encode()
    available = 63 - len("_") - len("_check")
    keep_first, keep_second = len(first), len(second)
    while keep_first + keep_second > available:
        if keep_first > keep_second:
            keep_first -= 1
        else:
            keep_second -= 1
    return first[:keep_first].decode(errors="ignore") + "_" + second[:keep_second].decode(errors="ignore") + "_check"


def array_type(field: FieldSchema) -> str:
    """The element type of ``field`` for a typed array parameter, e.g. ``int8``.

    An array field has none: an array of arrays is 2-D in PostgreSQL and
    ``unnest`` would flatten it, so the unnest strategies do not take such columns.
    """
    if is_array(field):
        raise ValueError(f"{field.name} is an array column; it cannot be a typed array parameter's element")
    if field.kind is FieldKind.ENUM:
        return "int8" if integer_enum(field) else "text"
    return _ARRAY_TYPES[field.kind]


# -- encoders: validated Python value -> asyncpg parameter --------------------


def _encode_datetime(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _enum_encoder(field: FieldSchema) -> Codec:
    if integer_enum(field):
        return lambda member: member.value
    mapping: dict[enum.Enum, str] = {member: str(member.value) for member in field.enum_type or ()}
    return mapping.__getitem__


def encoder(field: FieldSchema) -> Codec | None:
    kind = field.kind
    if is_array(field):
        # asyncpg encodes lists as arrays; the JSON text encoder must not see them.
        return None
    if kind is FieldKind.DATETIME:
        return _encode_datetime
    if kind is FieldKind.JSON:
        return _json_text
    if kind is FieldKind.ENUM:
        return _enum_encoder(field)
    return None


# -- decoders: asyncpg value -> the field's Python type ------------------------


def _enum_decoder(field: FieldSchema) -> Codec:
    assert field.enum_type is not None
    if integer_enum(field):
        return field.enum_type
    mapping = {str(member.value): member for member in field.enum_type}
    return mapping.__getitem__


def _plain_uuid(value: uuid.UUID) -> uuid.UUID:
    # asyncpg returns its own (faster) subclass of uuid.UUID; models promise uuid.UUID itself.
    return value if type(value) is uuid.UUID else uuid.UUID(int=value.int)


def decoder(field: FieldSchema) -> Codec | None:
    if field.kind is FieldKind.UUID:
        return _plain_uuid
    if is_array(field):
        return None  # asyncpg returns a list
    if field.kind is FieldKind.JSON:
        return json.loads
    if field.kind is FieldKind.ENUM:
        return _enum_decoder(field)
    return None


_INTEGRAL = "'^-?[0-9]+$'"
"""A float8's text without a point or an exponent (PostgreSQL prints 3.0 as ``3``)."""


def json_text(field: FieldSchema, value: str) -> str | None:
    """SQL for the JSON text of ``value`` that ``json.loads`` reads back as DataFlow's JSON of the field's value.

    Only kinds whose PostgreSQL text is that JSON already, or can be spelled so:
    a float8 that prints without a point gets ``.0`` (so it reads back a float,
    not an int); a timestamp is spelled as ``datetime.isoformat`` spells the UTC
    datetime asyncpg returns, a date as ``date.isoformat``; an enum stored as
    its text or integer value is that value.
    """
    if field.column_type is not None or field.array:
        return None
    kind = field.kind
    if kind is FieldKind.ENUM:
        if integer_enum(field):
            kind = FieldKind.INT
        elif all(isinstance(member.value, str) for member in field.enum_type or ()):
            kind = FieldKind.STR
    if kind in (FieldKind.STR, FieldKind.UUID):
        text = f"to_json({value})::text"
    elif kind in (FieldKind.INT, FieldKind.BOOL):
        text = f"({value})::text"
    elif kind is FieldKind.FLOAT:
        text = f"CASE WHEN ({value})::text ~ {_INTEGRAL} THEN ({value})::text || '.0' ELSE ({value})::text END"
    elif kind is FieldKind.DATETIME:
        # datetime.isoformat() of the aware UTC datetime asyncpg returns: no fraction when it is zero.
        utc = f"(({value}) AT TIME ZONE 'UTC')"
        fraction = f"CASE WHEN to_char({utc}, 'US') = '000000' THEN '' ELSE '.' || to_char({utc}, 'US') END"
        text = f"""'"' || to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS') || {fraction} || '+00:00"'"""
    elif kind is FieldKind.DATE:
        text = f"""'"' || to_char({value}, 'YYYY-MM-DD') || '"'"""
    else:
        return None
    return f"COALESCE({text}, 'null')"
