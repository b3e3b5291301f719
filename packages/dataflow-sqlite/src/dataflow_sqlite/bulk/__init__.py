"""SQLite bulk strategies, offered by ``SQLiteDialect.bulk_strategies``.

Each takes a node's whole request (``whole_request``) and writes it in one
hop to the connection's thread, where ``executemany`` reads the rows as they
are validated (:class:`~dataflow.nodes.lazy_rows.LazyRows`). Validating on
the main thread while the connection's thread writes would not overlap: the
writing thread needs the GIL back after every row's ``sqlite3_step``, and
waits a switch interval for it while the main thread validates. One thread
doing both, as a raw ``sqlite3`` user does, is faster. A bad row raises from
the iteration, inside the node's transaction, so nothing is kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from dataflow.bulk.generic import RETURNS_NO_IDS, refuse_conflicts_outside_scope
from dataflow.bulk.strategy import BulkRequest, BulkResult, BulkStrategy, Operation
from dataflow.dialect import Dialect, on_conflict_sql
from dataflow.fields import FieldKind
from dataflow.session import Session

if TYPE_CHECKING:
    import sqlite3

    from ..connection import SQLiteConnection


@attrs.frozen
class OneHopInsert:
    """One ``executemany`` over every row in one thread hop; new keys read back in the same hop when asked."""

    name: str = "sqlite_executemany"
    operation: Operation = "create"
    priority: int = 20
    whole_request: bool = True

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        pk = request.table.schema.pk
        if request.return_ids and (not pk.auto_increment or pk.name in request.columns):
            return RETURNS_NO_IDS
        return None

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        sql = table.insert(request.columns, returning=False)
        key = table.quoted[table.pk]
        newest = f"SELECT MAX({key}) FROM {table.table}"
        since = f"SELECT COUNT(*), MAX({key}) FROM {table.table} WHERE {key} > ?"
        listed = f"SELECT {key} FROM {table.table} WHERE {key} > ? ORDER BY {key}"

        def insert_all(raw: sqlite3.Connection) -> tuple[int, list[int] | None]:
            own_transaction = request.return_ids and not raw.in_transaction
            if own_transaction:
                raw.execute("BEGIN IMMEDIATE")  # the new keys are those above the newest one only under the lock
            try:
                last = raw.execute(newest).fetchone()[0] or 0 if request.return_ids else 0
                inserted = int(raw.executemany(sql, iter(request.rows)).rowcount)
                ids = None
                if request.return_ids:
                    # Under the write lock every key above the newest one before is one of these rows, in
                    # insertion order (auto-increment keys grow); consecutive ones need not be listed.
                    count, top = raw.execute(since, (last,)).fetchone()
                    if count == inserted and (top or last) - last == inserted:
                        ids = list(range(last + 1, last + inserted + 1))
                    else:
                        ids = [row[0] for row in raw.execute(listed, (last,))]
                if own_transaction:
                    raw.execute("COMMIT")
            except BaseException:
                if own_transaction and raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
            return inserted, ids

        connection: SQLiteConnection = session.connection  # type: ignore[assignment]
        count, ids = await session.call(
            lambda _: connection.run(insert_all), sql=sql, schema=table.schema, operation="bulk_create"
        )
        return BulkResult(inserted=count, ids=ids)


@attrs.frozen
class CountedUpsert:
    """The rows staged in a temporary table, then one ``INSERT ... SELECT ... ON CONFLICT`` from it.

    One statement for all rows is a fifth faster than the same upsert once
    per row (``executemany``): SQLite opens the table and its indexes once,
    and the staging inserts touch no index. The temporary table (one per
    connection and column count, untyped, so that the target's affinities
    apply as they would to bound values) is emptied in the same hop.

    Runs under the write lock that ``session.atomic()`` takes (BEGIN
    IMMEDIATE), so no other writer changes the table in between. New rows get
    rowids above the largest one before the statement, so counting the rows
    above it counts exactly the inserted ones; when the request writes an
    integer primary key itself (which is the rowid), the whole table is
    counted before and after instead.
    """

    name: str = "sqlite_counted_upsert"
    operation: Operation = "upsert"
    priority: int = 20
    whole_request: bool = True

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        return None

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        await refuse_conflicts_outside_scope(session, request)
        table = request.table
        width = len(request.columns)
        stage = f"temp.{table.dialect.quote(f'dataflow_upsert_{width}')}"
        staged = [f"c{i}" for i in range(width)]
        create_stage = f"CREATE TEMP TABLE IF NOT EXISTS {stage} ({', '.join(staged)})"
        fill_stage = f"INSERT INTO {stage} VALUES ({', '.join('?' * width)})"
        sql = upsert_from(
            table.dialect,
            table.schema.table,
            request.columns,
            f"SELECT {', '.join(staged)} FROM {stage} WHERE true",  # WHERE: ON CONFLICT is not a join's ON
            request.conflict_on,
            request.update_fields,
            request.increments,
            table.dialect.conflict_where(table.schema, request.conflict_on),
        )
        pk = table.schema.pk
        writes_rowid = pk.kind is FieldKind.INT and pk.name in request.columns

        def upsert_all(raw: sqlite3.Connection) -> int:
            if writes_rowid:
                before = raw.execute(f"SELECT COUNT(*) FROM {table.table}").fetchone()[0]
            else:
                before = raw.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table.table}").fetchone()[0]
            raw.execute(create_stage)
            try:
                raw.executemany(fill_stage, iter(request.rows))
                raw.execute(sql)
            except BaseException:
                # The node's transaction rolls the staged rows back too; the error that got here is the one
                # to report, not one of emptying the stage.
                with contextlib.suppress(Exception):
                    raw.execute(f"DELETE FROM {stage}")
                raise
            raw.execute(f"DELETE FROM {stage}")
            if writes_rowid:
                return int(raw.execute(f"SELECT COUNT(*) FROM {table.table}").fetchone()[0] - before)
            return int(raw.execute(f"SELECT COUNT(*) FROM {table.table} WHERE rowid > ?", (before,)).fetchone()[0])

        connection: SQLiteConnection = session.connection  # type: ignore[assignment]
        inserted = await session.call(
            lambda _: connection.run(upsert_all), sql=sql, schema=table.schema, operation="bulk_upsert"
        )
        updated = len(request.rows) - inserted if request.update_fields else 0
        return BulkResult(inserted=inserted, updated=updated)


def upsert_from(
    dialect: Dialect,
    table: str,
    columns: Sequence[str],
    select: str,
    conflict_on: Sequence[str],
    update_columns: Sequence[str],
    increment_columns: Sequence[str],
    conflict_where: str,
) -> str:
    """``INSERT ... SELECT ... ON CONFLICT``: :meth:`Dialect.upsert_sql`'s statement with ``select`` for its VALUES."""
    return on_conflict_sql(dialect.quote, table, columns, select, conflict_on, update_columns, increment_columns,
                           conflict_where)  # fmt: skip


STRATEGIES: tuple[BulkStrategy, ...] = (OneHopInsert(), CountedUpsert())
