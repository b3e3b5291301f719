"""Model values as JSON, the one way every audit entry stores and hashes them."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import json
import uuid
from typing import Any


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"cannot store a {type(value).__name__} in the audit trail")


_ENCODER = json.JSONEncoder(default=_plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
dumps = _ENCODER.encode
"""Canonical JSON: sorted keys, no spaces (one encoder, made once: bulk writes call this per row)."""


def loads(text: str) -> Any:
    return json.loads(text)


def plain(value: Any) -> Any:
    """``value`` as it reads back from the trail (a datetime as its ISO text, ...)."""
    return loads(dumps(value))
