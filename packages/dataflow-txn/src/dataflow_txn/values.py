"""Node outputs as JSON text and back, keeping the types DataFlow records carry.

Saga logs and idempotency markers store step outputs so that another process
can compensate them. Plain JSON would hand a compensation strings where the
step saw ``datetime`` or ``Decimal``; these tags bring the types back.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import json
import uuid
from typing import Any

_TAGS = ("$datetime", "$date", "$time", "$decimal", "$uuid", "$bytes")


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, enum.Enum):
        return _encode(value.value) if not isinstance(value.value, (str, int, float)) else value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(f"a value of type {type(value).__name__} cannot be stored in a transaction log")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) != 1:
        return obj
    ((tag, text),) = obj.items()
    if tag not in _TAGS or not isinstance(text, str):
        return obj
    if tag == "$datetime":
        return dt.datetime.fromisoformat(text)
    if tag == "$date":
        return dt.date.fromisoformat(text)
    if tag == "$time":
        return dt.time.fromisoformat(text)
    if tag == "$decimal":
        return decimal.Decimal(text)
    if tag == "$uuid":
        return uuid.UUID(text)
    return base64.b64decode(text)


def dumps(value: Any) -> str:
    """``value`` as JSON text; datetimes, decimals, UUIDs and bytes are tagged."""
    return json.dumps(value, default=_encode, separators=(",", ":"))


def loads(text: str | bytes | None) -> Any:
    """The value :func:`dumps` wrote (``None`` for SQL NULL)."""
    if text is None:
        return None
    return json.loads(text, object_hook=_decode)
