"""Field kinds as MySQL column types, and Python values to and from the driver.

=========  ==========================================================
kind       column
=========  ==========================================================
str        ``VARCHAR(n)`` for ``MaxLength(n)`` up to 768 characters
           (the longest that fits an index), else ``LONGTEXT``; in a
           key or unique group without ``MaxLength``: ``VARCHAR(255)``
int        ``BIGINT``
float      ``DOUBLE`` (the core refuses NaN and infinities on every backend)
bool       ``TINYINT(1)``
bytes      ``VARBINARY(n)`` up to 3072 bytes, else ``LONGBLOB``
Decimal    ``DECIMAL(65, 30)``: 35 integer and 30 fractional digits;
           a value with more is refused before SQL, never rounded
datetime   ``DATETIME(6)`` in UTC: aware values are converted, naive
           ones are taken as UTC, and values come back aware (UTC)
date       ``DATE``
time       ``TIME(6)``: naive (the core refuses a time with a zone)
UUID       ``CHAR(36) CHARACTER SET ascii``
dict/list  ``JSON`` (MariaDB: ``LONGTEXT`` with a ``JSON_VALID`` check)
Enum       ``BIGINT`` when every value is an int, else ``VARCHAR``
=========  ==========================================================
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import uuid
from typing import Any

from dataflow.dialect import Codec
from dataflow.errors import ValidationError
from dataflow.fields import FieldKind, FieldSchema

MAX_INDEXED_CHARS = 768
"""utf8mb4 characters that fit InnoDB's 3072-byte index key."""
MAX_INDEXED_BYTES = 3072
KEY_STR_LENGTH = 255
"""The length of a str key or unique field declared without ``MaxLength``."""
DECIMAL_PRECISION, DECIMAL_SCALE = 65, 30

_FIXED = {
    FieldKind.INT: "BIGINT",
    FieldKind.FLOAT: "DOUBLE",
    FieldKind.BOOL: "TINYINT(1)",
    FieldKind.DECIMAL: f"DECIMAL({DECIMAL_PRECISION}, {DECIMAL_SCALE})",
    FieldKind.DATETIME: "DATETIME(6)",
    FieldKind.DATE: "DATE",
    FieldKind.TIME: "TIME(6)",
    FieldKind.UUID: "CHAR(36) CHARACTER SET ascii COLLATE ascii_bin",
    FieldKind.JSON: "JSON",
}


def column_type(field: FieldSchema, *, keyed: bool = False) -> str:
    """The column type of ``field``; ``keyed`` when it is part of a primary key or unique group."""
    if field.column_type is not None:
        return field.column_type
    kind = field.kind
    if kind is FieldKind.STR:
        length = field.max_length if field.max_length is not None else (KEY_STR_LENGTH if keyed else None)
        return f"VARCHAR({length})" if length is not None and length <= MAX_INDEXED_CHARS else "LONGTEXT"
    if kind is FieldKind.BYTES:
        length = field.max_length if field.max_length is not None else (KEY_STR_LENGTH if keyed else None)
        return f"VARBINARY({length})" if length is not None and length <= MAX_INDEXED_BYTES else "LONGBLOB"
    if kind is FieldKind.ENUM:
        assert field.enum_type is not None
        values = [member.value for member in field.enum_type]
        if all(isinstance(value, int) and not isinstance(value, bool) for value in values):
            return "BIGINT"
        return f"VARCHAR({max(1, *(len(str(value)) for value in values))})"
    return _FIXED[kind]


def index_bytes(column: str) -> int | None:
    """Bytes one column takes in an index key, or None when it needs a prefix (TEXT, BLOB, JSON)."""
    if column.startswith("VARCHAR("):
        return 4 * int(column[8:-1])
    if column.startswith("VARBINARY("):
        return int(column[10:-1])
    if column in ("LONGTEXT", "LONGBLOB", "JSON"):
        return None
    if column.startswith("CHAR(36)"):
        return 36
    if column.startswith("DECIMAL"):
        return 30
    return 8


# -- encoders: validated Python value -> driver parameter ------------------------


def _utc_naive(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _enum(value: enum.Enum) -> Any:
    return value.value


def strip_zeros(value: decimal.Decimal) -> decimal.Decimal:
    """``value`` without trailing fractional zeros, exactly (``normalize()`` would round to 28 digits)."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    kept = list(digits)
    while exponent < 0 and len(kept) > 1 and kept[-1] == 0:
        kept.pop()
        exponent += 1
    if not any(kept):
        return decimal.Decimal(0)
    return decimal.Decimal((sign, tuple(kept), exponent))


def _digits(value: decimal.Decimal) -> tuple[int, int]:
    """(digits before the point, digits after it) of a finite Decimal, trailing zeros ignored."""
    _, digits, exponent = strip_zeros(value).as_tuple()
    assert isinstance(exponent, int)
    return max(0, len(digits) + exponent), max(0, -exponent)


def _fits(field: FieldSchema) -> Codec:
    """Refuses, before any SQL, a Decimal that DECIMAL(65, 30) would round or reject."""
    integer_limit = DECIMAL_PRECISION - DECIMAL_SCALE

    def check(value: decimal.Decimal) -> decimal.Decimal:
        integer, fraction = _digits(value)
        if integer > integer_limit or fraction > DECIMAL_SCALE:
            raise ValidationError(
                f"{field.name} = {value} does not fit DECIMAL({DECIMAL_PRECISION}, {DECIMAL_SCALE}): at most "
                f"{integer_limit} digits before the point and {DECIMAL_SCALE} after it",
                field=field.name,
            )
        return value

    return check


def encoder(field: FieldSchema) -> Codec | None:
    kind = field.kind
    if kind is FieldKind.DECIMAL:
        return _fits(field)
    if kind is FieldKind.ENUM:
        return _enum
    return _ENCODERS.get(kind)


_ENCODERS: dict[FieldKind, Codec] = {
    FieldKind.DATETIME: _utc_naive,
    FieldKind.UUID: str,
    FieldKind.JSON: _json,
}

# -- decoders: driver value -> the field's Python type ---------------------------


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, str):  # what PyMySQL returns for a value it cannot parse
        value = dt.datetime.fromisoformat(value)
    result: dt.datetime = value.replace(tzinfo=dt.UTC)
    return result


def _clock(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        return dt.time.fromisoformat(value)
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return dt.time(hours % 24, minutes, seconds, value.microseconds)


def _decimal(value: Any) -> decimal.Decimal:
    """Without the column's 30 trailing zeros: ``Decimal('1.5')``, not ``Decimal('1.500...0')``."""
    return strip_zeros(value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value)))


def _json_value(value: Any) -> Any:
    return json.loads(value)


def _bytes(value: Any) -> bytes:
    return value if type(value) is bytes else bytes(value)


_DECODERS: dict[FieldKind, Codec] = {
    FieldKind.BOOL: bool,
    FieldKind.DECIMAL: _decimal,
    FieldKind.DATETIME: _aware,
    FieldKind.TIME: _clock,
    FieldKind.UUID: uuid.UUID,
    FieldKind.JSON: _json_value,
    FieldKind.BYTES: _bytes,
}


def decoder(field: FieldSchema) -> Codec | None:
    if field.kind is FieldKind.ENUM:
        return field.enum_type
    return _DECODERS.get(field.kind)


_INTEGRAL = "'^-?[0-9]+$'"


def json_text(field: FieldSchema, value: str) -> str | None:
    """SQL for the JSON text of ``value`` that ``json.loads`` reads back as DataFlow's JSON of the field's value.

    Only kinds whose MariaDB text is that JSON already, or can be spelled so: a
    DOUBLE that prints without a point or exponent gets ``.0`` (a float, not an
    int; ``1e20`` is read back as a float as it is); a TINYINT(1) is ``true`` or
    ``false``; text, UUIDs and enums stored as text through ``JSON_QUOTE``; a
    DATETIME(6) as ``isoformat()`` spells the aware UTC datetime it is read back
    as, a DATE as ``date.isoformat()``. Times of day, decimals, JSON and bytes
    are left to the usual capture.
    """
    if field.column_type is not None or field.array:
        return None
    kind = field.kind
    if kind is FieldKind.ENUM:
        kind = FieldKind.INT if column_type(field) == "BIGINT" else FieldKind.STR
    if kind in (FieldKind.STR, FieldKind.UUID):
        text = f"JSON_QUOTE({value})"
    elif kind is FieldKind.INT:
        text = f"CAST({value} AS CHAR)"
    elif kind is FieldKind.BOOL:
        text = f"CASE WHEN {value} THEN 'true' WHEN NOT {value} THEN 'false' END"  # NULL: null, below
    elif kind is FieldKind.FLOAT:
        printed = f"CAST({value} AS CHAR)"
        text = f"IF({printed} REGEXP {_INTEGRAL}, CONCAT({printed}, '.0'), {printed})"
    elif kind is FieldKind.DATETIME:
        fraction = f"IF(MICROSECOND({value}) = 0, '', CONCAT('.', LPAD(MICROSECOND({value}), 6, '0')))"
        text = f"""CONCAT('"', DATE_FORMAT({value}, '%Y-%m-%dT%H:%i:%s'), {fraction}, '+00:00"')"""
    elif kind is FieldKind.DATE:
        text = f"""CONCAT('"', DATE_FORMAT({value}, '%Y-%m-%d'), '"')"""
    else:
        return None
    return f"COALESCE({text}, 'null')"
