"""Keyset pages for List: ``after=<cursor>`` continues where the page that gave ``"next"`` ended.

A cursor is an opaque token: the model, the order (``order_by`` and the
primary key as the last tie-breaker) and the last record's values of those
fields, signed with the instance's ``cursor_secret`` (HMAC-SHA256). A page
reads ``WHERE (a, b, id) > (last a, last b, last id)`` in the order's
directions, so a deep page costs what the first does, where ``offset`` reads
and drops every row before it. A cursor from another model or another order,
or one edited by hand, is refused.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import enum
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ValidationError
from ..fields import FieldKind
from ..schema import ModelSchema

KEYSET_KINDS = frozenset(FieldKind) - {FieldKind.JSON, FieldKind.BYTES}

Order = tuple[tuple[str, bool], ...]
"""(field, descending) pairs, the primary key last."""


def keyset_order(schema: ModelSchema, order_by: Any) -> Order:
    """The order a keyset page follows: ``order_by``'s fields, then the key; each must be a non-null plain field."""
    items = [order_by] if isinstance(order_by, str) else list(order_by or ())
    order: list[tuple[str, bool]] = []
    for item in items:
        if not isinstance(item, str):
            raise _error(schema, f"order_by: {item!r} is not a field name")
        name, descending = (item[1:], True) if item.startswith("-") else (item.lstrip("+"), False)
        field = schema.by_name.get(name)
        if field is None:
            raise _error(schema, f"keyset pages (after) order by the model's own fields; {name!r} is not one")
        if field.nullable or field.kind not in KEYSET_KINDS:
            raise _error(
                schema,
                f"keyset pages (after) need order_by fields that are never null and comparable; {name!r} is "
                f"{'nullable' if field.nullable else field.kind.value}: order by other fields, or page with offset",
            )
        order.append((name, descending))
    if schema.primary_key not in {name for name, _ in order}:
        order.append((schema.primary_key, order[-1][1] if order else False))
    return tuple(order)


def keyset_filter(order: Order, values: Sequence[Any]) -> dict[str, Any]:
    """The filter for the rows after ``values`` in ``order``: ``a > x OR (a = x AND b > y) OR ...``."""
    branches = []
    for index, (name, descending) in enumerate(order):
        equal = {order[i][0]: values[i] for i in range(index)}
        branches.append({**equal, name: {"$lt" if descending else "$gt": values[index]}})
    return {"$or": branches}


def encode_cursor(key: bytes, schema: ModelSchema, order: Order, record: Mapping[str, Any]) -> str:
    payload = {"m": schema.name, "o": [[name, descending] for name, descending in order],
               "v": [_plain(record[name]) for name, _ in order]}  # fmt: skip
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{_signature(key, body)}"


def decode_cursor(key: bytes, schema: ModelSchema, order: Order, cursor: Any) -> list[Any]:
    """The values a cursor carries, checked: signed by this instance, for this model and this order."""
    if not isinstance(cursor, str) or cursor.count(".") != 1:
        raise _error(schema, "after is not a cursor this List returned as 'next'")
    body, signature = cursor.split(".")
    if not hmac.compare_digest(signature, _signature(key, body)):
        raise _error(schema, "after is not a cursor this database gave (its signature does not match)")
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise _error(schema, "after is not a cursor this List returned as 'next'") from exc
    if payload.get("m") != schema.name:
        raise _error(schema, f"after is a cursor of model {payload.get('m')!r}, not of {schema.name}")
    if [tuple(item) for item in payload.get("o", ())] != [tuple(item) for item in order]:
        raise _error(schema, "after is a cursor of another order_by; use the order_by of the page that gave it")
    return [
        schema.by_name[name].validate(value, schema.name) for (name, _), value in zip(order, payload["v"], strict=True)
    ]


def _signature(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def _plain(value: Any) -> Any:
    """A JSON value that the field's validator turns back into ``value``."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _error(schema: ModelSchema, message: str) -> ValidationError:
    return ValidationError(f"{schema.name}: {message}", model=schema.name, field="after")
