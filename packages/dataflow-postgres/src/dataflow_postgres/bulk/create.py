"""BulkCreate on PostgreSQL: binary COPY, and ``INSERT ... SELECT FROM unnest(...)``.

Both return ids in row order when asked. COPY lets the identity sequence
fill the keys as it numbers the rows and reads them afterwards
(:func:`.arrays.copied_keys`); unnest takes them from the sequence first
and writes them with the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from dataflow.bulk.strategy import BulkRequest, BulkResult, Operation, chunks
from dataflow.dialect import Connection, Dialect
from dataflow.errors import DataFlowError
from dataflow.session import Session
from dataflow.sql import Params

from ..connection import driver, rowcount
from .arrays import (
    allocate_keys,
    array_refusal,
    column_list,
    copied_keys,
    copy_rows,
    generates_keys,
    postgres,
    transpose,
    unnest_source,
    with_keys,
)


def _keys_needed(request: BulkRequest) -> bool:
    # A table whose only column is its identity cannot be written without naming the key.
    return generates_keys(request) and (request.return_ids or not request.columns)


def _given_keys(request: BulkRequest) -> list[Any] | None:
    """The keys when the rows carry them; None when the database makes them up."""
    if not request.return_ids or generates_keys(request):
        return None
    position = request.columns.index(request.table.pk)
    return [row[position] for row in request.rows]


def _refused_by_rls(error: DataFlowError) -> bool:
    """The server refused COPY FROM because row-level security applies to the table (SQLSTATE 0A000)."""
    cause = error.__cause__
    return getattr(cause, "sqlstate", None) == "0A000" and "row-level security" in str(cause)


@attrs.frozen
class CopyInsert:
    """Binary ``COPY ... FROM STDIN`` of every row in one stream: PostgreSQL's fastest load.

    ``batch_size`` does not apply: COPY streams, and one statement is cheapest.
    The node's rows arrive as they are validated (``whole_request``), so the
    server loads the first rows while the later ones are being checked.
    PostgreSQL refuses COPY FROM on a table whose row-level-security policies
    apply to the user: the slice goes through :class:`UnnestInsert` instead, and
    the table is remembered on the dialect so that later requests choose unnest.
    """

    name: str = "copy"
    operation: Operation = "create"
    priority: int = 30
    whole_request: bool = True

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        if request.table.table in postgres(dialect).rls_tables:
            return f"PostgreSQL refused COPY into {request.table.table}: its row-level security applies to this user"
        return None

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        try:
            # A savepoint: the refused COPY must not abort the node's transaction.
            async with session.atomic():
                return await self._copy(session, request)
        except DataFlowError as error:
            if not _refused_by_rls(error):
                raise
            postgres(session.dialect).rls_tables.add(request.table.table)
        return await UnnestInsert().run(session, request)

    async def _copy(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        columns: tuple[str, ...] = request.columns
        keys_needed = _keys_needed(request)
        # Keys the sequence fills in are read after the COPY; only a table of nothing but its key names them.
        keys_first = keys_needed and not columns
        if keys_first:
            columns = (table.pk, *columns)
        sql = f"COPY {table.table} ({column_list(table, columns)}) FROM STDIN (FORMAT binary)"

        async def copy(connection: Connection) -> tuple[int, list[Any] | None]:
            postgres = driver(connection)
            raw = postgres.raw
            rows: Iterable[Sequence[Any]] = request.rows
            keys = None
            async with postgres.guard:
                if keys_first:
                    keys = await allocate_keys(raw, table, len(request.rows))
                    rows = with_keys(rows, keys)
                copied = await copy_rows(raw, table.schema.table, columns, rows)
                if keys_needed and not keys_first:
                    keys = await copied_keys(raw, table, copied)
                return copied, keys

        inserted, keys = await session.call(copy, sql=sql, schema=table.schema, operation="bulk_create")
        ids = (keys if keys_needed else _given_keys(request)) if request.return_ids else None
        return BulkResult(inserted=inserted, ids=ids)


@attrs.frozen
class UnnestInsert:
    """``INSERT ... SELECT * FROM unnest($1::text[], ...)`` per ``batch_size`` rows: one short statement per chunk."""

    name: str = "unnest"
    operation: Operation = "create"
    priority: int = 20

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        return array_refusal(request)

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        columns: tuple[str, ...] = request.columns
        keys_needed = _keys_needed(request)
        if keys_needed:
            columns = (table.pk, *columns)
        source = unnest_source(table, columns, Params(table.dialect))
        sql = f"INSERT INTO {table.table} ({column_list(table, columns)}) SELECT * FROM {source}"
        inserted = 0
        ids: list[Any] = []
        for chunk in chunks(request.rows, request.batch_size):

            async def insert(connection: Connection, chunk: Sequence[Sequence[Any]] = chunk) -> tuple[int, list[Any]]:
                postgres = driver(connection)
                keys: list[Any] = []
                rows = chunk
                async with postgres.guard:
                    if keys_needed:
                        keys = await allocate_keys(postgres.raw, table, len(chunk))
                        rows = list(with_keys(chunk, keys))
                    status = await postgres.raw.execute(sql, *transpose(rows, len(columns)))
                return rowcount(status), keys

            count, keys = await session.call(insert, sql=sql, schema=table.schema, operation="bulk_create")
            inserted += count
            ids.extend(keys)
        if not request.return_ids:
            return BulkResult(inserted=inserted)
        return BulkResult(inserted=inserted, ids=ids if keys_needed else _given_keys(request))
