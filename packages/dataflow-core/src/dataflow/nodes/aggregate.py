"""Aggregates in SQL: ``<Model>AggregateNode`` groups, counts, sums and averages in one statement.

    {"filter": {"active": True}, "group_by": ["country", "team.name"],
     "aggregates": {"n": {"$count": "*"}, "revenue": {"$sum": "amount"}},
     "having": {"n": {"$gte": 10}}, "order_by": ["-revenue"], "limit": 5}

Group fields may follow forward relations (joined, in the session's scope:
an out-of-scope related row groups as null). Values come back as the field's
type: counts are ints, averages floats, sums, minimums and maximums of a field
have that field's type (``Decimal`` for a ``Decimal`` field).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from ..errors import FilterError
from ..fields import FieldKind, FieldSchema
from ..filter_operators import TRUE
from ..filters import qualified_filter
from ..having import Computed, compile_computed
from ..schema import IDENTIFIER, suggest
from ..session import Session
from ..sql import Params, TableSQL
from .base import ModelNode
from .outputs import SCALAR, UNKNOWN, Items, Keys, Shape
from .statements import SessionTables, visible_scope

NUMERIC = frozenset({FieldKind.INT, FieldKind.FLOAT, FieldKind.DECIMAL})
ORDERED = NUMERIC | {FieldKind.STR, FieldKind.DATETIME, FieldKind.DATE, FieldKind.TIME}
COUNTABLE = frozenset(FieldKind) - {FieldKind.JSON}


@attrs.frozen
class Function:
    """An aggregate function: the kinds of field it takes and the kind of what it returns."""

    sql: str
    takes: frozenset[FieldKind]
    result: FieldKind | None
    """The result's kind; None: the field's own kind."""


FUNCTIONS: dict[str, Function] = {
    "$count": Function("COUNT", COUNTABLE, FieldKind.INT),
    "$count_distinct": Function("COUNT_DISTINCT", COUNTABLE, FieldKind.INT),
    "$sum": Function("SUM", NUMERIC, None),
    "$avg": Function("AVG", NUMERIC, FieldKind.FLOAT),
    "$min": Function("MIN", ORDERED, None),
    "$max": Function("MAX", ORDERED, None),
}


@attrs.frozen
class Column:
    """One output column of the statement: its name, SQL, and how a raw value becomes the output value."""

    name: str
    sql: str
    field: FieldSchema
    decode: Callable[[Any], Any]
    encode: Callable[[Any], Any] | None = None
    """How a value compared with it (in ``having``) is bound: as the field's values are, for its own kind."""


class _Joins:
    """``LEFT JOIN``s for group fields that follow forward relations, one per relation path."""

    def __init__(self, session: Session, table: TableSQL, params: Params, aliases: Iterator[int]) -> None:
        self.session = session
        self.root = table
        self.params = params
        self.aliases = aliases
        self.text: list[str] = []
        self._by_path: dict[str, tuple[TableSQL, str]] = {"": (table, table.table)}

    def column(self, path: str, node: ModelNode) -> tuple[TableSQL, str, FieldSchema]:
        """(table, its qualifier, field) for ``"name"`` or ``"team.owner.name"``."""
        *relations, name = path.split(".")
        table, qualifier = self.root, self.root.table
        walked = ""
        for relation_name in relations:
            relation = self.session.db.relations.get(table.schema.name, relation_name)
            if relation is None or relation.many:
                known = [r.name for r in self.session.db.relations.of(table.schema.name).values() if not r.many]
                raise node.error(
                    f"group_by {path!r}: {table.schema.name} has no forward relation {relation_name!r}"
                    f"{suggest(relation_name, known)}",
                    field="group_by",
                )
            walked = f"{walked}.{relation_name}" if walked else relation_name
            if walked not in self._by_path:
                self._by_path[walked] = self._join(table, qualifier, relation.local, relation.target, relation.remote)
            table, qualifier = self._by_path[walked]
        field = table.schema.by_name.get(name)
        if field is None:
            raise node.error(
                f"group_by {path!r}: {table.schema.name} has no field {name!r}{suggest(name, table.schema.by_name)}",
                field="group_by",
            )
        return table, qualifier, field

    def _join(self, table: TableSQL, qualifier: str, local: str, model: str, remote: str) -> tuple[TableSQL, str]:
        target = self.session.table(self.session.db.schema(model))
        alias = target.dialect.quote(f"dataflow_j{next(self.aliases)}")
        on = f"{alias}.{target.quoted[remote]} = {qualifier}.{table.quoted[local]}"
        scope = visible_scope(self.session, target)
        if scope is not None:
            on += " AND " + qualified_filter(scope, target, self.params, None, self.aliases, alias)
        self.text.append(f" LEFT JOIN {target.table} AS {alias} ON {on}")
        return target, alias


class AggregateNode(ModelNode):
    """Groups of records with aggregates computed by the database: ``{"groups": [...], "count": n}``."""

    operation = "aggregate"
    parameters = frozenset({"filter", "group_by", "aggregates", "having", "order_by", "limit", "offset"})

    @classmethod
    def output_shape(cls) -> Shape:
        # A group's keys are the names its group_by and aggregates chose: known when the node runs.
        return Keys({"groups": Items(UNKNOWN), "count": SCALAR})

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        return frozenset({"aggregates"})

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        table = self.table(session)
        dialect = table.dialect
        params = Params(dialect)
        aliases = itertools.count(1)
        joins = _Joins(session, table, params, aliases)
        groups = [self._group_column(joins, path) for path in self._names(inputs.get("group_by"), "group_by")]
        aggregates = [self._aggregate(table, name, spec) for name, spec in self._specs(inputs.get("aggregates"))]
        taken = {c.name for c in groups}
        for column in aggregates:
            if column.name in taken:
                raise self.error(f"aggregate {column.name!r} has the name of a group_by field", field="aggregates")
        select = ", ".join(f"{c.sql} AS {dialect.quote(f'c{i}')}" for i, c in enumerate([*groups, *aggregates]))
        related = SessionTables(session)
        conditions = [
            qualified_filter(f, table, params, related, aliases)
            for f in (inputs.get("filter"), visible_scope(session, table))
            if f is not None
        ]
        sql = f"SELECT {select} FROM {table.table}{''.join(joins.text)}"
        conditions = [c for c in conditions if c != TRUE]
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        if groups:
            sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(groups)))
        having = inputs.get("having")
        if having is not None:
            names = {c.name: Computed(c.sql, c.field, c.encode) for c in aggregates}
            sql += " HAVING " + compile_computed(having, table, params, names, "having")
        sql += self._order_by(inputs.get("order_by"), groups, aggregates)
        limit = self._count("limit", inputs.get("limit"))
        offset = self._count("offset", inputs.get("offset"))
        sql += dialect.limit_clause(
            params.add(limit) if limit is not None else None, params.add(offset) if offset is not None else None
        )
        rows = await session.fetch(sql, params.values, schema=self.schema, operation=self.operation)
        columns = [*groups, *aggregates]
        found = [
            {c.name: (None if value is None else c.decode(value)) for c, value in zip(columns, row, strict=True)}
            for row in rows
        ]
        return {"groups": found, "count": len(found)}

    # -- parameters -------------------------------------------------------------

    def _names(self, value: Any, parameter: str) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise self.error(f"{parameter} takes a list of field names", field=parameter)
        return list(value)

    def _specs(self, value: Any) -> list[tuple[str, Mapping[str, Any]]]:
        if not isinstance(value, Mapping) or not value:
            raise self.error(
                'aggregates takes an object of names to functions, e.g. {"n": {"$count": "*"}}', field="aggregates"
            )
        specs = []
        for name, spec in value.items():
            if not isinstance(name, str) or not IDENTIFIER.match(name):
                raise self.error(f"aggregate name {name!r} is not an identifier", field="aggregates")
            if not isinstance(spec, Mapping) or len(spec) != 1:
                raise self.error(
                    f'aggregate {name!r} takes one function: {{"$sum": "field"}}, one of {", ".join(FUNCTIONS)}',
                    field="aggregates",
                )
            specs.append((name, spec))
        return specs

    def _count(self, name: str, value: Any) -> int | None:
        if value is None:
            return None
        if type(value) is not int or value < 0:
            raise self.error(f"{name!r} must be a non-negative integer, got {value!r}", field=name)
        return value

    # -- columns ----------------------------------------------------------------

    def _group_column(self, joins: _Joins, path: str) -> Column:
        table, qualifier, field = joins.column(path, self)
        decoder = table.dialect.decoder(field)
        return Column(path, f"{qualifier}.{table.quoted[field.name]}", field, decoder or _same)

    def _aggregate(self, table: TableSQL, name: str, spec: Mapping[str, Any]) -> Column:
        ((op, argument),) = spec.items()
        function = FUNCTIONS.get(op) if isinstance(op, str) else None
        if function is None:
            raise self.error(
                f"aggregate {name!r}: unknown function {op!r}{suggest(op, FUNCTIONS)}; "
                f"use one of {', '.join(FUNCTIONS)}",
                field="aggregates",
            )
        if op == "$count" and argument == "*":
            return Column(name, "COUNT(*)", FieldSchema(name=name, kind=FieldKind.INT), int)
        field = table.schema.by_name.get(argument) if isinstance(argument, str) else None
        if field is None:
            raise self.error(
                f"aggregate {name!r}: {self.schema.name} has no field {argument!r}"
                f"{suggest(argument, table.schema.by_name)}",
                field="aggregates",
            )
        if field.kind not in function.takes or field.element_kind is not None:
            kinds = ", ".join(sorted(k.value for k in function.takes))
            raise self.error(
                f"aggregate {name!r}: {op} does not apply to {field.name!r} ({field.kind.value}); it takes {kinds}",
                field="aggregates",
            )
        column = f"{table.table}.{table.quoted[field.name]}"
        sql = table.dialect.aggregate(function.sql, field, column)
        kind = function.result or field.kind
        result = FieldSchema(name=name, kind=kind, nullable=True, enum_type=field.enum_type)
        encode = table.encoders.get(field.name) if function.result is None else None
        return Column(name, sql, result, _result_decoder(table, field, kind), encode)

    def _order_by(self, value: Any, groups: list[Column], aggregates: list[Column]) -> str:
        names = self._names(value, "order_by")
        by_name = {c.name: (index + 1, c) for index, c in enumerate([*groups, *aggregates])}
        parts = []
        for item in names:
            name, direction = (item[1:], "DESC") if item.startswith("-") else (item.lstrip("+"), "ASC")
            if name not in by_name:
                raise FilterError(
                    f"{self.schema.name} order_by: {name!r} is neither a group_by field nor an aggregate"
                    f"{suggest(name, by_name)}",
                    model=self.schema.name,
                    field=name,
                )
            position, column = by_name[name]
            # Groups by their position in the select list; aggregates by value (a text-stored Decimal as a number).
            sql = self.db.dialect.ordered(column.field, column.sql) if column in aggregates else str(position)
            parts.append(f"{sql} {direction}")
        return " ORDER BY " + ", ".join(parts) if parts else ""


def _same(value: Any) -> Any:
    return value


def _result_decoder(table: TableSQL, field: FieldSchema, kind: FieldKind) -> Callable[[Any], Any]:
    """How a raw aggregate value becomes a value of ``kind`` (a field's own kind decodes as the field does)."""
    if kind is FieldKind.INT:
        return int
    if kind is FieldKind.FLOAT:
        return float
    decoder = table.dialect.decoder(field)
    return decoder or _same
