"""The field operators of the filter language (``$eq``, ``$in``, ``$like``, ...): each builds one condition.

Each operator takes the compiler (for binding values and raising errors that
name the field), the field, its column as the statement names it, and the
caller's value; it returns SQL text with every value bound as a parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .fields import FieldKind, FieldSchema, valid_text

if TYPE_CHECKING:
    from .filters import FilterCompiler

TRUE, FALSE = "1 = 1", "1 = 0"
"""The folded constant conditions; they bind no parameters."""


def _eq(c: FilterCompiler, f: FieldSchema, column: str, value: Any) -> str:
    return f"{column} IS NULL" if value is None else f"{column} = {c.bind(f, value)}"


def _ne(c: FilterCompiler, f: FieldSchema, column: str, value: Any) -> str:
    if value is None:
        return f"{column} IS NOT NULL"
    # Like the document filters users know, $ne also matches rows where the field is null.
    if f.nullable:
        return f"({column} <> {c.bind(f, value)} OR {column} IS NULL)"
    return f"{column} <> {c.bind(f, value)}"


def _ordering(symbol: str) -> Callable[[FilterCompiler, FieldSchema, str, Any], str]:
    def build(c: FilterCompiler, f: FieldSchema, column: str, value: Any) -> str:
        if value is None:
            raise c.error(f"cannot compare {f.name!r} with null; use $null", field=f.name)
        ordered = c.table.dialect.ordered
        return f"{ordered(f, column)} {symbol} {ordered(f, c.bind(f, value))}"

    return build


def _members(c: FilterCompiler, f: FieldSchema, op: str, value: Any) -> list[str]:
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise c.error(f"{op} on {f.name!r} takes a list", field=f.name)
    return [c.bind(f, item) for item in value if item is not None]


def _in(c: FilterCompiler, f: FieldSchema, column: str, value: Any) -> str:
    placeholders = _members(c, f, "$in", value)
    parts = [f"{column} IN ({', '.join(placeholders)})"] if placeholders else []
    if None in value:
        parts.append(f"{column} IS NULL")
    if not parts:
        return FALSE
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _nin(c: FilterCompiler, f: FieldSchema, column: str, value: Any) -> str:
    placeholders = _members(c, f, "$nin", value)
    if None in value:
        base = f"{column} IS NOT NULL"
        return f"({base} AND {column} NOT IN ({', '.join(placeholders)}))" if placeholders else base
    if not placeholders:
        return TRUE
    clause = f"{column} NOT IN ({', '.join(placeholders)})"
    return f"({clause} OR {column} IS NULL)" if f.nullable else clause


def _like(case_insensitive: bool) -> Callable[[FilterCompiler, FieldSchema, str, Any], str]:
    def build(c: FilterCompiler, f: FieldSchema, column: str, value: Any) -> str:
        if f.kind is not FieldKind.STR:
            # Databases differ (PostgreSQL refuses, others cast to text): patterns match text fields only.
            raise c.error(
                f"$like/$ilike apply to text fields; {f.name!r} is {f.type_name} (use $eq, $in or a range)",
                field=f.name,
            )
        if not isinstance(value, str):
            raise c.error(f"$like/$ilike on {f.name!r} takes a string pattern", field=f.name)
        if not valid_text(value):
            raise c.error(
                f"the $like/$ilike pattern on {f.name!r} holds NUL or a lone surrogate, which no backend stores",
                field=f.name,
            )
        placeholder = c.params.add(c.encode(f, value))
        return c.table.dialect.like(column, placeholder, case_insensitive=case_insensitive)

    return build


def _elements(every: bool) -> Callable[[FilterCompiler, FieldSchema, str, Any], str]:
    """``$contains`` (every given element is in the list) and ``$overlaps`` (at least one is)."""
    op = "$contains" if every else "$overlaps"

    def build(c: FilterCompiler, f: FieldSchema, column: str, value: Any) -> str:
        if f.element_kind is None:
            raise c.error(f"{op} applies to list fields (list[int], list[str], ...); {f.name!r} is not one", f.name)
        if not isinstance(value, (list, tuple)):
            raise c.error(f"{op} on {f.name!r} takes a list of elements", field=f.name)
        if not value:
            # Every list contains no elements; no list shares one with an empty list.
            return f"{column} IS NOT NULL" if every else FALSE
        condition = c.table.dialect.list_elements(f, column, c.bind(f, list(value)), every=every)
        if condition is None:
            raise c.error(f"{op} is not supported on {c.table.dialect.name}", field=f.name)
        return condition

    return build


def _null(c: FilterCompiler, f: FieldSchema, column: str, value: Any) -> str:
    if not isinstance(value, bool):
        raise c.error(f"$null on {f.name!r} takes true or false", field=f.name)
    return f"{column} IS NULL" if value else f"{column} IS NOT NULL"


OPERATORS: dict[str, Callable[[FilterCompiler, FieldSchema, str, Any], str]] = {
    "$eq": _eq,
    "$ne": _ne,
    "$gt": _ordering(">"),
    "$gte": _ordering(">="),
    "$lt": _ordering("<"),
    "$lte": _ordering("<="),
    "$in": _in,
    "$nin": _nin,
    "$like": _like(False),
    "$ilike": _like(True),
    "$null": _null,
    "$contains": _elements(every=True),
    "$overlaps": _elements(every=False),
}
