"""SQLite bulk strategies: each does all its chunks in one hop to the connection's thread."""

from __future__ import annotations

import sqlite3
from typing import Any

import attrs

from dataflow.bulk.strategy import BulkRequest, BulkResult, Operation, chunks
from dataflow.dialect import Dialect
from dataflow.session import Session

from .connection import SQLiteConnection


def _is_sqlite(dialect: Dialect) -> bool:
    return dialect.name == "sqlite"


@attrs.frozen
class OneHopInsert:
    """``executemany`` over every chunk in one thread hop."""

    name: str = "sqlite_executemany"
    operation: Operation = "create"
    priority: int = 20

    def applies(self, dialect: Dialect, request: BulkRequest) -> bool:
        return _is_sqlite(dialect) and not request.return_ids

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        sql = request.table.insert(request.columns, returning=False)

        def insert_all(raw: sqlite3.Connection) -> int:
            inserted = 0
            for chunk in chunks(request.rows, request.batch_size):
                inserted += raw.executemany(sql, chunk).rowcount
            return inserted

        connection: SQLiteConnection = session.connection  # type: ignore[assignment]
        count = await session.call(
            lambda _: connection.run(insert_all), sql=sql, schema=request.table.schema, operation="bulk_create"
        )
        return BulkResult(inserted=count)


@attrs.frozen
class CountedUpsert:
    """``INSERT ... ON CONFLICT DO UPDATE`` for every row, counting the table before and after.

    Runs under the write lock that ``session.atomic()`` takes (BEGIN
    IMMEDIATE), so no other writer can change the count in between: the
    difference is exactly the rows inserted.
    """

    name: str = "sqlite_counted_upsert"
    operation: Operation = "upsert"
    priority: int = 20

    def applies(self, dialect: Dialect, request: BulkRequest) -> bool:
        return _is_sqlite(dialect)

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        placeholders = ["?"] * len(request.columns)
        sql = table.dialect.upsert_sql(
            table.schema.table, request.columns, placeholders, request.conflict_on, request.update_fields
        )
        count_sql = f"SELECT COUNT(*) FROM {table.table}"

        def upsert_all(raw: sqlite3.Connection) -> tuple[int, int]:
            before = raw.execute(count_sql).fetchone()[0]
            for chunk in chunks(request.rows, request.batch_size):
                raw.executemany(sql, chunk)
            after = raw.execute(count_sql).fetchone()[0]
            return before, after

        connection: SQLiteConnection = session.connection  # type: ignore[assignment]
        before, after = await session.call(
            lambda _: connection.run(upsert_all), sql=sql, schema=table.schema, operation="bulk_upsert"
        )
        inserted = after - before
        updated = len(request.rows) - inserted if request.update_fields else 0
        return BulkResult(inserted=inserted, updated=updated)


STRATEGIES: tuple[Any, ...] = (OneHopInsert(), CountedUpsert())
