"""Reading many records: List and Count."""

from __future__ import annotations

from typing import Any

from ..errors import FilterError, ValidationError
from ..fields import INT_MAX
from ..ordering import compile_order_by
from ..session import Session
from ..sql import Params
from .base import ModelNode
from .cursor import Order, decode_cursor, encode_cursor, keyset_filter, keyset_order
from .include import attach, needed_columns, parse_includes
from .outputs import SCALAR, Items, Keys, Shape, counts, record_shape
from .rows import check_known
from .statements import SessionTables, where


def _non_negative(node: ModelNode, name: str, value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= INT_MAX:
        raise node.error(f"{name!r} must be an integer from 0 to {INT_MAX}, got {value!r}", field=name)
    return value


class ListNode(ModelNode):
    """Records matching ``filter``, ordered, paged (``offset``, or keyset with ``after``), optionally ``fields``.

    With ``limit``, the output's ``next`` is the cursor of the next page
    (``after=next``), or None when this page is the last; it is None too when
    the order cannot be paged by keyset (a nullable or relation field).
    """

    operation = "list"
    parameters = frozenset({"filter", "order_by", "limit", "offset", "fields", "include", "after"})

    @classmethod
    def output_shape(cls) -> Shape:
        record = record_shape(cls.schema, cls.db.relations.of(cls.schema.name))
        return Keys({"records": Items(record), "count": SCALAR, "next": SCALAR})

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        table = self.table(session)
        shown = inputs.get("fields")
        if shown is not None:
            # An empty list would SELECT no columns: a syntax error on SQLite and MySQL, empty records on PostgreSQL.
            if isinstance(shown, str) or not shown or not all(isinstance(c, str) for c in shown):
                raise FilterError(
                    f"{self.schema.name} fields: expected a non-empty list of field names (leave fields out for all)",
                    model=self.schema.name,
                    field="fields",
                )
            shown = tuple(shown)
            check_known(self.schema, shown, "fields", writable_only=False)
        includes = parse_includes(session, self.schema, inputs.get("include"))
        limit = _non_negative(self, "limit", inputs.get("limit"))
        offset = _non_negative(self, "offset", inputs.get("offset"))
        order_by, filter = inputs.get("order_by"), inputs.get("filter")
        keyset = self._keyset(order_by, limit, inputs.get("after"), offset)
        if keyset is not None:
            order, after = keyset
            order_by = [f"-{name}" if descending else name for name, descending in order]
            if after is not None:
                condition = keyset_filter(order, after)
                filter = condition if filter is None else {"$and": [filter, condition]}
        columns = needed_columns(self.schema, shown, includes)
        if keyset is not None and columns is not None:
            columns = (*columns, *(name for name, _ in keyset[0] if name not in columns))
        params = Params(table.dialect)
        sql = f"SELECT {table.select_columns(columns)} FROM {table.table}"
        sql += where(session, table, params, filter)
        sql += compile_order_by(order_by, table, params, SessionTables(session))
        sql += table.dialect.limit_clause(
            params.add(limit) if limit is not None else None, params.add(offset) if offset is not None else None
        )
        rows = await session.fetch(sql, params.values, schema=self.schema, operation=self.operation)
        records = [table.decode(row, columns) for row in rows]
        output: dict[str, Any] = {"records": records, "count": len(records)}
        if limit is not None:
            output["next"] = None
            if keyset is not None and records and len(records) == limit:
                output["next"] = encode_cursor(session.db.cursor_key, self.schema, keyset[0], records[-1])
        if includes:
            await attach(session, records, includes, shown, self.operation)
        elif shown is not None and columns is not None and len(columns) > len(shown):
            for record in records:
                for name in columns[len(shown) :]:
                    record.pop(name, None)
        return output

    def _keyset(
        self, order_by: Any, limit: int | None, after: Any, offset: int | None
    ) -> tuple[Order, list[Any] | None] | None:
        """The keyset order (and the values to continue after), or None when the page is not keyset-paged."""
        if after is None:
            if limit is None:
                return None
            try:
                return keyset_order(self.schema, order_by), None
            except ValidationError:
                return None  # an order keyset paging cannot follow: offset pages, and no "next"
        if offset is not None:
            raise self.error(
                "after and offset cannot be combined: a cursor already says where the page starts", "after"
            )
        order = keyset_order(self.schema, order_by)
        return order, decode_cursor(self.db.cursor_key, self.schema, order, after)


class CountNode(ModelNode):
    """``{"count": n}`` of the records matching ``filter``."""

    operation = "count"
    parameters = frozenset({"filter"})

    @classmethod
    def output_shape(cls) -> Shape:
        return counts("count")

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        table = self.table(session)
        params = Params(table.dialect)
        sql = f"SELECT COUNT(*) FROM {table.table}{where(session, table, params, inputs.get('filter'))}"
        rows = await session.fetch(sql, params.values, schema=self.schema, operation=self.operation)
        return {"count": int(rows[0][0])}
