"""Query parameters of the collection routes, read into node parameters; anything unknown is a 400 naming it.

``?filter={"age": {"$gte": 18}}`` (JSON) or ``?age[$gte]=18&active=true``;
``order_by=-age,name``; ``limit``, ``offset`` or ``after``; ``fields=a,b``;
``include=team,posts`` (or JSON for options). Query values are text: each is
read as its field's type (``18`` an int for an int field, ``true`` a bool).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.datastructures import QueryParams

from dataflow.fields import FieldKind, FieldSchema
from dataflow.schema import ModelSchema, suggest

from .problems import Problem

LIST_PARAMETERS = ("filter", "order_by", "limit", "offset", "after", "fields", "include")
AGGREGATE_PARAMETERS = ("filter", "group_by", "aggregates", "having", "order_by", "limit", "offset")
_OPERATOR = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)\[(\$[a-z_]+)\]$")


def single(params: QueryParams) -> dict[str, str]:
    """Every parameter once: a repeated one is refused rather than one of its values silently chosen."""
    for name in params:
        if len(params.getlist(name)) > 1:
            raise Problem(400, f"query parameter {name!r} is repeated; give it once")
    return dict(params)


def json_parameter(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply to parse
        raise Problem(400, f"query parameter {name!r} is not valid JSON") from None


def names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def count(name: str, text: str, maximum: int | None = None) -> int:
    if not (text.isascii() and text.isdigit()):
        raise Problem(400, f"query parameter {name!r} must be a non-negative integer, got {text[:40]!r}")
    value = int(text)
    if maximum is not None and value > maximum:
        raise Problem(400, f"{name}={value} is over the maximum of {maximum}")
    return value


def field_value(field: FieldSchema, text: str) -> Any:
    """Query text as the field's type, where JSON would have given it one."""
    if text == "null":
        return None
    if field.kind in (FieldKind.INT, FieldKind.FLOAT, FieldKind.BOOL, FieldKind.JSON) or (
        field.kind is FieldKind.ENUM
        and field.enum_type is not None
        and not isinstance(next(iter(field.enum_type)).value, str)
    ):
        try:
            return json.loads(text)
        except ValueError:
            return text  # the field's validator names it
    return text


def list_parameters(
    schema: ModelSchema, params: QueryParams, *, allowed: Iterable[str], visible: set[str], max_limit: int,
    default_limit: int,
) -> dict[str, Any]:  # fmt: skip
    """Node parameters for List / Count / Aggregate from the query string."""
    allowed = tuple(allowed)
    given = single(params)
    out: dict[str, Any] = {}
    equalities: dict[str, Any] = {}
    for name, text in given.items():
        operator = _OPERATOR.match(name)
        field_name, op = (operator.group(1), operator.group(2)) if operator else (name, None)
        if name in allowed:
            out[name] = _parameter(name, text, max_limit)
        elif field_name in visible and field_name in schema.by_name:
            value = field_value(schema.by_name[field_name], text)
            if op is None:
                equalities[field_name] = value
            else:
                equalities.setdefault(field_name, {})
                if not isinstance(equalities[field_name], dict):
                    raise Problem(400, f"{field_name!r} is given both as a value and with operators")
                equalities[field_name][op] = (
                    [field_value(schema.by_name[field_name], v) for v in names(text)]
                    if op in ("$in", "$nin")
                    else value
                )
        else:
            raise Problem(400, f"unknown query parameter {name!r}{suggest(field_name, [*allowed, *visible])}")
    if equalities:
        out["filter"] = {"$and": [out["filter"], equalities]} if "filter" in out else equalities
    if "limit" in allowed and "limit" not in out:
        out["limit"] = default_limit
    return out


def _parameter(name: str, text: str, max_limit: int) -> Any:
    if name in ("filter", "aggregates", "having"):
        value = json_parameter(name, text)
        if not isinstance(value, Mapping):
            raise Problem(400, f"query parameter {name!r} must be a JSON object")
        return value
    if name in ("order_by", "fields", "group_by"):
        return names(text)
    if name == "include":
        return json_parameter(name, text) if text.lstrip().startswith(("{", "[")) else names(text)
    if name == "limit":
        return count(name, text, max_limit)
    if name == "offset":
        return count(name, text)
    return text  # after: an opaque cursor the node checks


# Deeper filters are refused before any node sees them: no real query nests 32 levels, and a
# filter of thousands of nested "$not"s would exhaust the compiler's recursion.
MAX_FILTER_DEPTH = 32


def refuse_hidden(filter: Any, hidden: set[str], where: str = "filter", depth: int = 0) -> None:
    """A filter naming a hidden field is refused as if the field did not exist: hidden fields leak nothing.

    A filter nested deeper than :data:`MAX_FILTER_DEPTH` is refused too.
    """
    if depth > MAX_FILTER_DEPTH:
        raise Problem(400, f"{where} is nested deeper than {MAX_FILTER_DEPTH} levels")
    if isinstance(filter, Mapping):
        for key, value in filter.items():
            if isinstance(key, str) and not key.startswith("$") and key.partition(".")[0] in hidden:
                raise Problem(400, f"{where}: unknown field {key!r}")
            refuse_hidden(value, hidden, where, depth + 1)
    elif isinstance(filter, list):
        for item in filter:
            refuse_hidden(item, hidden, where, depth + 1)
