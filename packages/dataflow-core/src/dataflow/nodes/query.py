"""Reading many records: List and Count."""

from __future__ import annotations

from typing import Any

from ..errors import FilterError
from ..fields import INT_MAX
from ..filters import compile_order_by
from ..session import Session
from ..sql import Params
from .base import ModelNode
from .rows import check_known
from .statements import where


def _non_negative(node: ModelNode, name: str, value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= INT_MAX:
        raise node.error(f"{name!r} must be an integer from 0 to {INT_MAX}, got {value!r}", field=name)
    return value


class ListNode(ModelNode):
    """Records matching ``filter``, ordered, paged, optionally only some ``fields``."""

    operation = "list"
    parameters = frozenset({"filter", "order_by", "limit", "offset", "fields"})

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        table = self.table(session)
        columns = inputs.get("fields")
        if columns is not None:
            if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
                raise FilterError(f"{self.schema.name} fields: expected a list of field names", model=self.schema.name)
            columns = tuple(columns)
            check_known(self.schema, columns, "fields", writable_only=False)
        limit = _non_negative(self, "limit", inputs.get("limit"))
        offset = _non_negative(self, "offset", inputs.get("offset"))
        params = Params(table.dialect)
        sql = f"SELECT {table.select_columns(columns)} FROM {table.table}"
        sql += where(session, table, params, inputs.get("filter"))
        sql += compile_order_by(inputs.get("order_by"), table)
        sql += table.dialect.limit_clause(
            params.add(limit) if limit is not None else None, params.add(offset) if offset is not None else None
        )
        rows = await session.fetch(sql, params.values, schema=self.schema, operation=self.operation)
        records = [table.decode(row, columns) for row in rows]
        return {"records": records, "count": len(records)}


class CountNode(ModelNode):
    """``{"count": n}`` of the records matching ``filter``."""

    operation = "count"
    parameters = frozenset({"filter"})

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        table = self.table(session)
        params = Params(table.dialect)
        sql = f"SELECT COUNT(*) FROM {table.table}{where(session, table, params, inputs.get('filter'))}"
        rows = await session.fetch(sql, params.values, schema=self.schema, operation=self.operation)
        return {"count": int(rows[0][0])}
