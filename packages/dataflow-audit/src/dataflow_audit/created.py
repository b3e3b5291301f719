"""The entries of a bulk create, made a column at a time: its rows' ``changes`` text without a dict per row.

A created row's changes are ``{field: [null, value]}`` for every audited field,
exactly the canonical JSON :func:`dataflow_audit.values.dumps` makes of them.
Each column is encoded once (one C call per value for the plain types), and
each row's text is one ``%`` of a template holding the sorted field names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

from .values import dumps


def _float(value: float) -> str:
    # The encoder's own text for a float: repr, except for the non-finite ones (NaN, Infinity).
    return float.__repr__(value) if math.isfinite(value) else dumps(value)


PLAIN: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    float: _float,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}
"""JSON text of a value of exactly these types, as the canonical encoder writes it; any other goes to ``dumps``."""


def encode_column(values: Sequence[Any]) -> list[str]:
    """The JSON text of every value of one column."""
    kinds = set(map(type, values))
    if len(kinds) == 1:
        (kind,) = kinds
        encode = PLAIN.get(kind)
        if encode is not None:
            return list(map(encode, values))
    return [PLAIN.get(type(value), dumps)(value) for value in values]


def created_changes(columns: Mapping[str, Sequence[Any]], fields: Sequence[str]) -> list[str]:
    """``dumps({name: [None, row[name]] for name in fields})`` of every row, built column-wise."""
    names = sorted(fields)
    if not names:
        return ["{}"] * len(next(iter(columns.values()), ()))
    template = "{" + ",".join(encode_basestring(name).replace("%", "%%") + ":[null,%s]" for name in names) + "}"
    encoded = [encode_column(columns[name]) for name in names]
    return [template % values for values in zip(*encoded, strict=True)]


def record_changes(found: Mapping[str, Any], key_low: int, key: int) -> dict[str, list[Any]] | None:
    """Record ``key``'s ``changes`` in a bulk entry (its ``changes`` read), as its own entry would hold them."""
    index = key - key_low
    if not found["columns"] or not 0 <= index < len(found["columns"][0]):
        return None
    return {name: [None, column[index]] for name, column in zip(found["fields"], found["columns"], strict=True)}
