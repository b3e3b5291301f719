"""The package's own tables (transaction log, saga log, idempotency markers), on any dialect.

Each table is declared like a model, so the dialect's own DDL, quoting,
placeholders and codecs apply; but it is not registered with ``db.model``:
it gets no nodes, and schema extensions (a tenant column) never touch it.
Statements go through the session, so errors are translated and monitors
see them.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dataflow.errors import DataFlowError
from dataflow.schema import ModelSchema, schema_from_class
from dataflow.sql import Params, TableSQL

if TYPE_CHECKING:
    from dataflow import DataFlow
    from dataflow.session import Session

_ready: weakref.WeakKeyDictionary[DataFlow, set[str]] = weakref.WeakKeyDictionary()


def now_ms() -> int:
    return int(time.time() * 1000)


def declare(cls: type) -> ModelSchema:
    """The schema of a table class (type hints and ``__dataflow__``, as for models)."""
    return schema_from_class(cls, {})


class Table:
    """One of the package's tables on one database."""

    def __init__(self, session: Session, schema: ModelSchema) -> None:
        self.session = session
        self.schema = schema
        self.sql = TableSQL(session.dialect, schema)
        self.dialect = session.dialect

    async def ensure(self) -> None:
        """Create the table if it is missing (once per ``DataFlow``); run it outside a transaction.

        MySQL commits implicitly on DDL, so this must not run inside the
        transaction whose writes it is about to log.
        """
        db = self.session.db
        done = _ready.setdefault(db, set())
        if self.schema.table in done:
            return
        statements = self.dialect.create_table_sql(self.schema, {self.schema.name: self.schema})
        for attempt in range(2):
            try:
                for statement in statements:
                    await self.session.execute(statement, operation="create_table")
                break
            except DataFlowError:
                # Two sessions creating the same table at once: PostgreSQL may refuse the second.
                if attempt or self.session.in_transaction:
                    raise
        done.add(self.schema.table)

    async def insert(self, row: Mapping[str, Any]) -> None:
        columns = tuple(row)
        await self.session.execute(self.sql.insert(columns, returning=False), self.sql.encode_row(row, columns))

    def _where(self, params: Params, where: Mapping[str, Any]) -> str:
        if not where:
            return ""
        clauses = [
            f"{self.sql.quoted[name]} IS NULL"
            if value is None
            else f"{self.sql.quoted[name]} = {params.add(self.sql.encode(name, value))}"
            for name, value in where.items()
        ]
        return " WHERE " + " AND ".join(clauses)

    async def select(
        self, where: Mapping[str, Any] | None = None, *, order_by: Sequence[str] = (), for_update: bool = False
    ) -> list[dict[str, Any]]:
        params = Params(self.dialect)
        sql = f"SELECT {self.sql.select_list} FROM {self.sql.table}{self._where(params, where or {})}"
        if order_by:
            sql += " ORDER BY " + ", ".join(self.sql.quoted[name] for name in order_by)
        if for_update and self.dialect.name != "sqlite":
            sql += " FOR UPDATE"
        rows = await self.session.fetch(sql, params.values)
        return [self.sql.decode(row) for row in rows]

    async def select_one(self, where: Mapping[str, Any]) -> dict[str, Any] | None:
        rows = await self.select(where)
        return rows[0] if rows else None

    async def update(self, values: Mapping[str, Any], where: Mapping[str, Any]) -> int:
        """Update matching rows; return how many matched."""
        params = Params(self.dialect)
        assignments = ", ".join(
            f"{self.sql.quoted[name]} = {params.add(self.sql.encode(name, value))}" for name, value in values.items()
        )
        sql = f"UPDATE {self.sql.table} SET {assignments}{self._where(params, where)}"
        result = await self.session.execute(sql, params.values)
        return result.rowcount

    async def delete(self, where: Mapping[str, Any]) -> int:
        params = Params(self.dialect)
        result = await self.session.execute(f"DELETE FROM {self.sql.table}{self._where(params, where)}", params.values)
        return result.rowcount
