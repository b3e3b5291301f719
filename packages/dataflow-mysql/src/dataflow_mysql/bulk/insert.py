"""Multi-row INSERT, each statement as large as ``batch_size`` and ``max_allowed_packet`` allow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from dataflow.bulk.strategy import BulkRequest, BulkResult, Operation
from dataflow.dialect import Dialect
from dataflow.session import Session

from ..literals import pack_statements, row_literal
from .common import chunk_size, execute, fetch, insert_prefix, mysql_dialect, reported_sql, statement_bytes

if TYPE_CHECKING:
    from ..dialect import MySQLDialect


@attrs.frozen
class MultiRowInsert:
    """``INSERT ... VALUES (...), (...)`` with ids when asked.

    Ids come from, in order of preference: the rows themselves (the key was
    given); ``LAST_INSERT_ID()`` plus consecutive values when
    ``innodb_autoinc_lock_mode`` <= 1 (a multi-row VALUES list is a "simple
    insert": its values are reserved at once, in a row,
    ``auto_increment_increment`` apart); ``RETURNING`` (MariaDB 10.5+);
    else one statement per row. ``LAST_INSERT_ID()`` comes first because
    RETURNING sends a result row per inserted row, which aiomysql reads in
    Python: 100,000 ids took longer than inserting their rows.
    """

    name: str = "mysql_values"
    operation: Operation = "create"
    priority: int = 20

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        return None

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        dialect = mysql_dialect(table.dialect)
        prefix = insert_prefix(request)
        literals = [row_literal(row) for row in request.rows]
        schema = table.schema

        def statements(suffix: str = "") -> list[str]:
            return pack_statements(prefix, literals, suffix, statement_bytes(dialect), chunk_size(request))

        if not request.return_ids or table.pk in request.columns:
            inserted = 0
            reported = reported_sql(request)
            for statement in statements():
                inserted += (await execute(session, statement, schema, reported)).rowcount
            if not request.return_ids:
                return BulkResult(inserted=inserted)
            position = request.columns.index(table.pk)
            return BulkResult(
                inserted=inserted, ids=[table.decode([row[position]], [table.pk])[table.pk] for row in request.rows]
            )
        ids = await self._generated_ids(session, dialect, request, prefix, literals, statements)
        return BulkResult(inserted=len(ids), ids=ids)

    async def _generated_ids(
        self,
        session: Session,
        dialect: MySQLDialect,
        request: BulkRequest,
        prefix: str,
        literals: list[str],
        statements: Any,
    ) -> list[Any]:
        table = request.table
        schema = table.schema
        server = dialect.server
        ids: list[Any] = []
        if server is not None and server.consecutive_ids:
            step = server.auto_increment_increment
            reported = reported_sql(request)
            for statement in statements():
                result = await execute(session, statement, schema, reported)
                first = int(result.last_id)
                ids.extend(range(first, first + step * result.rowcount, step))
        elif "insert" in dialect.capabilities.returning:
            returning = f" RETURNING {table.quoted[table.pk]}"
            reported = reported_sql(request, returning)
            for statement in statements(returning):
                ids.extend(row[0] for row in await fetch(session, statement, schema, reported))
        else:
            reported = reported_sql(request)
            for literal in literals:
                ids.append((await execute(session, prefix + literal, schema, reported)).last_id)
        return ids
