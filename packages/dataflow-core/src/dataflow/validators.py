"""The checks of one value against its field's kind, and of a whole column of values at once.

Each validator returns the value as the field's Python type or raises
``TypeError``/``ValueError`` (``Unstorable`` for a value of the right type that
no database stores faithfully); :meth:`dataflow.fields.FieldSchema.validate`
turns those into a ``ValidationError`` naming the model and field.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import math
import re
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .kinds import INT_MAX, INT_MIN, MAX_JSON_DEPTH, FieldKind, Unstorable

if TYPE_CHECKING:
    from .fields import FieldSchema


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def valid_text(text: str) -> bool:
    """Can every backend store ``text``: Unicode that UTF-8 can carry (no lone surrogates), without NUL?"""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(text: str) -> str:
    """``text``, or ``Unstorable`` when some backend cannot store it faithfully.

    Lone surrogates come from decoding bytes with ``surrogateescape`` and the
    like; drivers encode them differently (MariaDB's turned them into other
    characters). PostgreSQL text cannot hold NUL. Both are refused everywhere.
    """
    if valid_text(text):
        return text
    if "\x00" in text:
        raise Unstorable("contains a NUL character (\\x00), which PostgreSQL cannot store; no backend takes it")
    bad = next(c for c in text if 0xD800 <= ord(c) <= 0xDFFF)
    raise Unstorable(f"is not valid Unicode text: it contains the lone surrogate {bad!r}")


_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
"""``\\u0000`` in JSON text (a NUL in a string), not an escaped backslash followed by ``u0000``."""


def _str(field: FieldSchema, value: Any) -> str:
    if type(value) is str:
        return check_text(value)
    if isinstance(value, str):
        return check_text(str(value))
    raise TypeError


def _int(field: FieldSchema, value: Any) -> int:
    if type(value) is int:
        result = value
    elif isinstance(value, int) and not isinstance(value, bool):
        result = int(value)
    else:
        raise TypeError
    if not INT_MIN <= result <= INT_MAX:
        raise Unstorable(f"is {short(result)}, outside the 64-bit integer range ({INT_MIN} to {INT_MAX})")
    return result


def _float(field: FieldSchema, value: Any) -> float:
    if type(value) is float:
        result = value
    elif isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
        result = float(value)
    else:
        raise TypeError
    if not math.isfinite(result):
        # PostgreSQL would store NaN, SQLite would turn it into NULL, MariaDB refuses it: one rule for all.
        raise Unstorable(f"must be a finite number, got {result!r} (NaN and infinities are not stored)")
    return result


def _bool(field: FieldSchema, value: Any) -> bool:
    if type(value) is bool:
        return value
    raise TypeError


def _bytes(field: FieldSchema, value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError


def _decimal(field: FieldSchema, value: Any) -> decimal.Decimal:
    if isinstance(value, decimal.Decimal):
        result = value
    elif isinstance(value, (int, str)) and not isinstance(value, bool):
        result = decimal.Decimal(value)
    elif isinstance(value, float):
        result = decimal.Decimal(str(value))
    else:
        raise TypeError
    if not result.is_finite():
        raise ValueError("not a finite number")
    return result


def _datetime(field: FieldSchema, value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, str):
        result = dt.datetime.fromisoformat(value)
    else:
        raise TypeError
    # A naive datetime is UTC, and every value is an aware UTC one, so that all backends agree.
    if result.tzinfo is None:
        return result.replace(tzinfo=dt.UTC)
    return result.astimezone(dt.UTC)


def _date(field: FieldSchema, value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise TypeError
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    raise TypeError


def _time(field: FieldSchema, value: Any) -> dt.time:
    if isinstance(value, dt.time):
        result = value
    elif isinstance(value, str):
        result = dt.time.fromisoformat(value)
    else:
        raise TypeError
    if result.tzinfo is not None:
        # A clock time with an offset has no instant to convert; backends kept, dropped or refused it.
        raise Unstorable(f"is a time with a zone ({result.isoformat()}); time fields hold naive times")
    return result


def _uuid(field: FieldSchema, value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        return uuid.UUID(value)
    raise TypeError


def _json(field: FieldSchema, value: Any) -> Any:
    if not isinstance(value, (dict, list)):
        raise TypeError
    # Refuse what cannot be stored now, rather than in the driver: strict JSON, valid Unicode.
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except RecursionError:
        raise Unstorable("is nested too deeply to be stored as JSON") from None
    except ValueError as exc:
        raise Unstorable(f"cannot be stored as JSON: {exc} (NaN and infinities are not JSON)") from None
    if not valid_text(text):
        raise Unstorable("is not valid Unicode text: a key or string in it contains a lone surrogate")
    if "\\u0000" in text and _JSON_NUL.search(text):
        raise Unstorable("contains a NUL character (\\u0000), which PostgreSQL cannot store; no backend takes it")
    # Counting brackets (in C) settles almost every document without walking it.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise Unstorable(f"is nested too deeply to be stored as JSON (more than {MAX_JSON_DEPTH} levels)")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Does the JSON value nest objects and lists more than ``limit`` levels deep? Walks without recursion."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        container, level = pending.pop()
        if level > limit:
            return True
        items = container.values() if isinstance(container, dict) else container
        pending.extend((item, level + 1) for item in items if isinstance(item, (dict, list)))
    return False


def _enum(field: FieldSchema, value: Any) -> enum.Enum:
    enum_type = field.enum_type
    assert enum_type is not None
    if isinstance(value, enum_type):
        return value
    return enum_type(value)


def _all_text(values: Sequence[Any]) -> bool:
    return valid_text("".join(values))


def _all_in_range(values: Sequence[Any]) -> bool:
    return not values or (min(values) >= INT_MIN and max(values) <= INT_MAX)


def _all_finite(values: Sequence[Any]) -> bool:
    # One C loop: a NaN or an infinity makes the sum non-finite (a rare overflow only costs the slow path).
    return math.isfinite(sum(values))


COLUMN_CHECKS: dict[FieldKind, Callable[[Sequence[Any]], bool]] = {
    FieldKind.STR: _all_text,
    FieldKind.INT: _all_in_range,
    FieldKind.FLOAT: _all_finite,
}
"""For kinds whose exact Python type can still hold unstorable values: True when a whole
column of values of that exact type is storable (False sends them through :meth:`FieldSchema.validate`)."""


VALIDATORS: dict[FieldKind, Callable[[FieldSchema, Any], Any]] = {
    FieldKind.STR: _str,
    FieldKind.INT: _int,
    FieldKind.FLOAT: _float,
    FieldKind.BOOL: _bool,
    FieldKind.BYTES: _bytes,
    FieldKind.DECIMAL: _decimal,
    FieldKind.DATETIME: _datetime,
    FieldKind.DATE: _date,
    FieldKind.TIME: _time,
    FieldKind.UUID: _uuid,
    FieldKind.JSON: _json,
    FieldKind.ENUM: _enum,
}
