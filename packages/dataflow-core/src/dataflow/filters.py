"""The filter language, compiled to parameterised SQL.

``{"age": {"$gte": 18}, "$or": [{"name": "Ann"}, {"name": {"$like": "B%"}}]}``

Field names are checked against the schema, operators against the table
below, and every value is validated as the field's type and bound as a
parameter. Nothing a caller passes becomes SQL text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import FilterError, ValidationError
from .fields import FieldKind, FieldSchema, valid_text
from .schema import suggest
from .sql import Params, TableSQL

Filter = Mapping[str, Any]

TRUE, FALSE = "1 = 1", "1 = 0"


class _Compiler:
    def __init__(self, table: TableSQL, params: Params) -> None:
        self.table = table
        self.params = params
        self.model = table.schema.name

    def error(self, message: str, field: str | None = None) -> FilterError:
        return FilterError(f"{self.model} filter: {message}", model=self.model, field=field)

    def compile(self, node: Any) -> str:
        if not isinstance(node, Mapping):
            raise self.error(f"expected an object of conditions, got {type(node).__name__}")
        parts = [self.clause(key, value) for key, value in node.items()]
        if not parts:
            return TRUE
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def clause(self, key: Any, value: Any) -> str:
        if isinstance(key, str) and key.startswith("$"):
            logical = LOGICAL.get(key)
            if logical is None:
                raise self.error(f"unknown operator {key!r}{suggest(key, LOGICAL)}")
            return logical(self, value)
        field = self.field(key)
        if isinstance(value, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in value):
            parts = [self.comparison(field, op, operand) for op, operand in value.items()]
            return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
        return self.comparison(field, "$eq", value)

    def field(self, name: Any) -> FieldSchema:
        found = self.table.schema.by_name.get(name) if isinstance(name, str) else None
        if found is None:
            raise self.error(f"unknown field {name!r}{suggest(name, self.table.schema.by_name)}", field=str(name))
        return found

    def comparison(self, field: FieldSchema, op: Any, operand: Any) -> str:
        build = OPERATORS.get(op) if isinstance(op, str) else None
        if build is None:
            raise self.error(f"unknown operator {op!r} on {field.name!r}{suggest(op, OPERATORS)}", field=field.name)
        return build(self, field, self.table.quoted[field.name], operand)

    def bind(self, field: FieldSchema, value: Any) -> str:
        try:
            checked = field.validate(value, self.model) if value is not None else None
        except ValidationError as exc:
            raise FilterError(exc.message, model=self.model, field=field.name) from None
        return self.params.add(self.table.encode(field.name, checked))

    def logical_list(self, op: str, value: Any) -> list[str]:
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
            raise self.error(f"{op} takes a list of filters")
        return [self.compile(item) for item in value]


def _and(c: _Compiler, value: Any) -> str:
    parts = c.logical_list("$and", value)
    return "(" + " AND ".join(parts) + ")" if parts else TRUE


def _or(c: _Compiler, value: Any) -> str:
    parts = c.logical_list("$or", value)
    return "(" + " OR ".join(parts) + ")" if parts else FALSE


def _not(c: _Compiler, value: Any) -> str:
    return f"NOT ({c.compile(value)})"


LOGICAL: dict[str, Callable[[_Compiler, Any], str]] = {"$and": _and, "$or": _or, "$not": _not}


def _eq(c: _Compiler, f: FieldSchema, column: str, value: Any) -> str:
    return f"{column} IS NULL" if value is None else f"{column} = {c.bind(f, value)}"


def _ne(c: _Compiler, f: FieldSchema, column: str, value: Any) -> str:
    if value is None:
        return f"{column} IS NOT NULL"
    # Like the document filters users know, $ne also matches rows where the field is null.
    if f.nullable:
        return f"({column} <> {c.bind(f, value)} OR {column} IS NULL)"
    return f"{column} <> {c.bind(f, value)}"


def _ordering(symbol: str) -> Callable[[_Compiler, FieldSchema, str, Any], str]:
    def build(c: _Compiler, f: FieldSchema, column: str, value: Any) -> str:
        if value is None:
            raise c.error(f"cannot compare {f.name!r} with null; use $null", field=f.name)
        ordered = c.table.dialect.ordered
        return f"{ordered(f, column)} {symbol} {ordered(f, c.bind(f, value))}"

    return build


def _members(c: _Compiler, f: FieldSchema, op: str, value: Any) -> list[str]:
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise c.error(f"{op} on {f.name!r} takes a list", field=f.name)
    return [c.bind(f, item) for item in value if item is not None]


def _in(c: _Compiler, f: FieldSchema, column: str, value: Any) -> str:
    placeholders = _members(c, f, "$in", value)
    parts = [f"{column} IN ({', '.join(placeholders)})"] if placeholders else []
    if None in value:
        parts.append(f"{column} IS NULL")
    if not parts:
        return FALSE
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _nin(c: _Compiler, f: FieldSchema, column: str, value: Any) -> str:
    placeholders = _members(c, f, "$nin", value)
    if None in value:
        base = f"{column} IS NOT NULL"
        return f"({base} AND {column} NOT IN ({', '.join(placeholders)}))" if placeholders else base
    if not placeholders:
        return TRUE
    clause = f"{column} NOT IN ({', '.join(placeholders)})"
    return f"({clause} OR {column} IS NULL)" if f.nullable else clause


def _like(case_insensitive: bool) -> Callable[[_Compiler, FieldSchema, str, Any], str]:
    def build(c: _Compiler, f: FieldSchema, column: str, value: Any) -> str:
        if f.kind is not FieldKind.STR:
            # Databases differ (PostgreSQL refuses, others cast to text): patterns match text fields only.
            raise c.error(
                f"$like/$ilike apply to text fields; {f.name!r} is {f.type_name} (use $eq, $in or a range)",
                field=f.name,
            )
        if not isinstance(value, str):
            raise c.error(f"$like/$ilike on {f.name!r} takes a string pattern", field=f.name)
        if not valid_text(value):
            raise c.error(f"the $like/$ilike pattern on {f.name!r} is not valid Unicode text", field=f.name)
        # A text field's encoder may refuse what its database cannot hold (NUL on PostgreSQL).
        placeholder = c.params.add(c.table.encode(f.name, value))
        return c.table.dialect.like(column, placeholder, case_insensitive=case_insensitive)

    return build


def _elements(every: bool) -> Callable[[_Compiler, FieldSchema, str, Any], str]:
    """``$contains`` (every given element is in the list) and ``$overlaps`` (at least one is)."""
    op = "$contains" if every else "$overlaps"

    def build(c: _Compiler, f: FieldSchema, column: str, value: Any) -> str:
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


def _null(c: _Compiler, f: FieldSchema, column: str, value: Any) -> str:
    if not isinstance(value, bool):
        raise c.error(f"$null on {f.name!r} takes true or false", field=f.name)
    return f"{column} IS NULL" if value else f"{column} IS NOT NULL"


OPERATORS: dict[str, Callable[[_Compiler, FieldSchema, str, Any], str]] = {
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


def compile_filter(filter: Filter | None, table: TableSQL, params: Params) -> str:
    """The WHERE condition for ``filter``, its values bound into ``params``."""
    if filter is None:
        return TRUE
    return _Compiler(table, params).compile(filter)


def compile_order_by(order_by: Any, table: TableSQL) -> str:
    """``ORDER BY`` text for ``["-age", "name"]``; unknown fields raise ``FilterError``."""
    if order_by is None:
        return ""
    if isinstance(order_by, str):
        order_by = [order_by]
    if not isinstance(order_by, Sequence):
        raise FilterError(f"{table.schema.name} order_by takes a list of field names", model=table.schema.name)
    parts = []
    for item in order_by:
        if not isinstance(item, str):
            raise FilterError(f"{table.schema.name} order_by: {item!r} is not a field name", model=table.schema.name)
        name, direction = (item[1:], "DESC") if item.startswith("-") else (item.lstrip("+"), "ASC")
        if name not in table.quoted:
            raise FilterError(
                f"{table.schema.name} order_by: unknown field {name!r}{suggest(name, table.quoted)}",
                model=table.schema.name,
                field=name,
            )
        parts.append(f"{table.dialect.ordered(table.field(name), table.quoted[name])} {direction}")
    return " ORDER BY " + ", ".join(parts) if parts else ""
