"""The one JSON encoding of DataFlow values on the wire, both ways.

datetime, date and time: ISO 8601 text; Decimal: a string (every digit kept);
UUID: its canonical text; bytes: base64 text; enums: their value. Requests use
the same encoding; each field's validator turns the text back into its type.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import json
import uuid
from collections.abc import Mapping
from typing import Any

from dataflow.fields import FieldKind
from dataflow.schema import ModelSchema


def default(value: Any) -> Any:
    """``json.dumps`` fallback for the kinds JSON has no type for."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON-encodable")


def dumps(value: Any) -> bytes:
    return json.dumps(value, default=default, ensure_ascii=False, separators=(",", ":")).encode()


def decode_record(schema: ModelSchema, body: Mapping[str, Any]) -> dict[str, Any]:
    """A request record with bytes fields decoded from base64 (the other kinds the validators read from text)."""
    record = dict(body)
    for name, value in body.items():
        field = schema.by_name.get(name)
        if field is not None and field.kind is FieldKind.BYTES and isinstance(value, str):
            try:
                record[name] = base64.b64decode(value, validate=True)
            except ValueError:
                record[name] = value  # the field's validator names it
    return record
