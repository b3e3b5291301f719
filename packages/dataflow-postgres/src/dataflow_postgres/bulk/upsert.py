"""BulkUpsert on PostgreSQL: one ``INSERT ... ON CONFLICT`` that measures what it did.

``RETURNING (xmax = 0)`` is true for a row the statement inserted and false
for one it updated, so the counts are exact even with concurrent writers.
The node has already refused (or collapsed) repeated keys in one request.

Scope (tenancy, soft delete): a conflicting record outside the scope must
not be touched. The update carries ``WHERE EXISTS (<record in scope>)``;
a row that conflicts with an out-of-scope record is then neither inserted
nor updated, and when the request asked for updates that is a
``UniqueViolationError`` (the same answer the one-record Upsert gives), so
the whole batch rolls back instead of silently skipping rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import attrs

from dataflow.bulk.strategy import BulkRequest, BulkResult, Operation, chunks
from dataflow.dialect import Connection, Dialect
from dataflow.errors import UniqueViolationError
from dataflow.filters import compile_filter
from dataflow.session import Session
from dataflow.sql import Params, TableSQL

from ..connection import driver
from .arrays import array_refusal, column_list, copy_rows, transpose, unnest_source

TARGET_ALIAS = '"_t"'


def merge_sql(table: TableSQL, request: BulkRequest, source: str, params: Params) -> str:
    """``WITH merged AS (INSERT ... SELECT ... FROM source ON CONFLICT ...) SELECT inserted, updated``.

    ``source`` yields the request's columns in order; scope values are bound into ``params``.
    """
    q = table.quoted
    columns = column_list(table, request.columns)
    sql = (
        f"INSERT INTO {table.table} AS {TARGET_ALIAS} ({columns}) SELECT * FROM {source} "
        f"ON CONFLICT ({column_list(table, request.conflict_on)})"
        f"{table.dialect.conflict_where(table.schema, request.conflict_on)} "
    )
    if request.update_fields:
        assignments = [f"{q[c]} = EXCLUDED.{q[c]}" for c in request.update_fields]
        assignments += [f"{q[c]} = {TARGET_ALIAS}.{q[c]} + 1" for c in request.increments]
        sql += "DO UPDATE SET " + ", ".join(assignments)
        if request.scope is not None:
            # Unqualified columns in DO UPDATE ... WHERE would be ambiguous with EXCLUDED;
            # inside the subquery they name the one table of its FROM.
            condition = compile_filter(request.scope, table, params)
            sql += (
                f" WHERE EXISTS (SELECT 1 FROM {table.table} WHERE {table.table}.{q[table.pk]} = "
                f"{TARGET_ALIAS}.{q[table.pk]} AND {condition})"
            )
    else:
        sql += "DO NOTHING"
    sql += f" RETURNING ({TARGET_ALIAS}.xmax = 0) AS inserted"
    return (
        f"WITH merged AS ({sql}) "
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"
    )


def _result(request: BulkRequest, rows: int, inserted: int, updated: int) -> BulkResult:
    if request.update_fields and inserted + updated < rows:
        table = request.table
        fields = request.conflict_on
        raise UniqueViolationError(
            f"{table.schema.name}: {rows - inserted - updated} record(s) with the same {', '.join(fields)} exist "
            "outside this run's scope (another tenant's, or deleted) and cannot be updated",
            model=table.schema.name,
            fields=fields,
        )
    return BulkResult(inserted=inserted, updated=updated)


def temporary_table(table: TableSQL, columns: Sequence[str]) -> str:
    """A name for the staging table of ``table``'s ``columns``: stable, and within the 63-byte limit."""
    digest = hashlib.sha1("\0".join((table.schema.table, *columns)).encode()).hexdigest()[:12]
    return f"dataflow_stage_{digest}"


@attrs.frozen
class CopyMerge:
    """COPY the rows into a temporary table, then merge them with one statement.

    The staging table lives in the node's transaction (bulk nodes run inside
    ``session.atomic()``): created on first use with ``ON COMMIT DROP``, so
    nothing outlives the transaction, and emptied before each use, so that a
    node calling the strategy once per slice of rows pays for one table,
    not one per slice. A failed statement's rollback takes the rows back.
    """

    name: str = "copy_merge"
    operation: Operation = "upsert"
    priority: int = 30
    whole_request: bool = True
    """One COPY and one merge for all the node's rows: the merge is the expensive statement."""

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        return None

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        if not session.in_transaction:
            async with session.atomic():
                return await self.run(session, request)
        table = request.table
        stage = temporary_table(table, request.columns)
        quoted_stage = table.dialect.quote(stage)
        params = Params(table.dialect)
        merge = merge_sql(table, request, quoted_stage, params)
        # One simple query, one round trip: the table exists and is empty afterwards.
        prepare_stage = (
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {quoted_stage} ON COMMIT DROP AS "
            f"SELECT {column_list(table, request.columns)} FROM {table.table} WITH NO DATA; "
            f"TRUNCATE {quoted_stage}"
        )

        async def upsert(connection: Connection) -> tuple[int, int]:
            postgres = driver(connection)
            raw = postgres.raw
            async with postgres.guard:
                await raw.execute(prepare_stage)
                await copy_rows(raw, stage, request.columns, request.rows)
                row = await raw.fetchrow(merge, *params.values)
            return int(row[0]), int(row[1])

        inserted, updated = await session.call(upsert, sql=merge, schema=table.schema, operation="bulk_upsert")
        return _result(request, len(request.rows), inserted, updated)


@attrs.frozen
class UnnestMerge:
    """The same merge from ``unnest($1::text[], ...)``, one statement per ``batch_size`` rows."""

    name: str = "unnest"
    operation: Operation = "upsert"
    priority: int = 20

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        return array_refusal(request)

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        params = Params(table.dialect)
        width = len(request.columns)
        source = unnest_source(table, request.columns, params)
        merge = merge_sql(table, request, source, params)
        scope_values = params.values[width:]
        inserted = updated = 0
        for chunk in chunks(request.rows, request.batch_size):
            values: list[Any] = [*transpose(chunk, width), *scope_values]

            async def upsert(connection: Connection, values: Sequence[Any] = values) -> tuple[int, int]:
                postgres = driver(connection)
                async with postgres.guard:
                    row = await postgres.raw.fetchrow(merge, *values)
                return int(row[0]), int(row[1])

            counts = await session.call(upsert, sql=merge, schema=table.schema, operation="bulk_upsert")
            inserted += counts[0]
            updated += counts[1]
        return _result(request, len(request.rows), inserted, updated)
