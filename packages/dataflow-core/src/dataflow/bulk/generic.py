"""Bulk strategies that work on any SQL dialect; dialect packages add faster ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from ..dialect import Dialect
from ..errors import UniqueViolationError
from ..filters import compile_filter
from ..session import Session
from ..sql import Params, TableSQL, delete_statement
from .strategy import BulkRequest, BulkResult, Operation, chunks


def rows_per_statement(dialect: Dialect, request: BulkRequest, width: int) -> int:
    """Rows that fit one statement: the batch size, capped by the parameter limit."""
    return max(1, min(request.batch_size, dialect.capabilities.max_parameters // max(width, 1)))


def scope_condition(table: TableSQL, request: BulkRequest, params: Params) -> str:
    """`` AND <scope>`` bound into ``params``, or ``""``."""
    if request.scope is None:
        return ""
    return " AND " + compile_filter(request.scope, table, params)


def key_list_condition(table: TableSQL, columns: Sequence[str], count: int, params: Params) -> str:
    """``pk IN (?, ...)`` or ``(a, b) IN ((?, ?), ...)`` for ``count`` keys; placeholders only."""
    if len(columns) == 1:
        holders = ", ".join(params.add(None) for _ in range(count))
        return f"{table.quoted[columns[0]]} IN ({holders})"
    tuples = ", ".join("(" + ", ".join(params.add(None) for _ in columns) + ")" for _ in range(count))
    return f"({', '.join(table.quoted[c] for c in columns)}) IN ({tuples})"


def insert_values_sql(table: TableSQL, columns: Sequence[str], count: int, params: Params) -> str:
    rows = ", ".join("(" + ", ".join(params.add(None) for _ in columns) + ")" for _ in range(count))
    return f"INSERT INTO {table.table} ({', '.join(table.quoted[c] for c in columns)}) VALUES {rows}"


async def refuse_conflicts_outside_scope(session: Session, request: BulkRequest) -> None:
    """An upsert must not update rows the caller cannot see (soft-deleted, another tenant's).

    Strategies that update through ON CONFLICT / ON DUPLICATE KEY call this
    first when the request has a scope. Every unique key the rows carry is
    checked, not only ``conflict_on``: MySQL updates the row of whichever key
    collides. A key that exists outside the scope is a unique violation.
    """
    if request.scope is None or not request.update_fields:
        return
    table = request.table
    schema = table.schema
    keys = [(schema.primary_key,), *schema.unique]
    for key in dict.fromkeys(k for k in keys if set(k) <= set(request.columns)):
        # A soft-deleted row does not hold a value unique among live rows: only the key is everyone's.
        live_only = key != (schema.primary_key,) and table.dialect.live_unique(schema)
        hidden = await _count_outside_scope(session, request, key, live_only=live_only)
        if hidden:
            raise UniqueViolationError(
                f"{schema.name}: {hidden} row(s) with the same {', '.join(key)} exist outside the current scope "
                "(soft-deleted, or another tenant's) and cannot be updated",
                model=schema.name,
                fields=key,
            )


async def _count_outside_scope(
    session: Session, request: BulkRequest, key: tuple[str, ...], *, live_only: bool = False
) -> int:
    table = request.table
    positions = [request.columns.index(c) for c in key]
    hidden = 0
    for chunk in chunks(request.rows, rows_per_statement(table.dialect, request, len(positions) + 4)):
        params = Params(table.dialect)
        condition = key_list_condition(table, key, len(chunk), params)
        params.values = [row[p] for row in chunk for p in positions]
        outside = compile_filter(request.scope, table, params)
        sql = f"SELECT COUNT(*) FROM {table.table} WHERE {condition} AND NOT ({outside})"
        if live_only:
            sql += f" AND {table.quoted['deleted_at']} IS NULL"
        rows = await session.fetch(sql, params.values, schema=table.schema, operation="bulk_upsert")
        hidden += int(rows[0][0])
    return hidden


RETURNS_NO_IDS = "it cannot return ids (return_ids=True)"
"""Why a strategy that writes without reading back cannot run a request for the new rows' keys."""


@attrs.frozen
class ExecuteManyInsert:
    """One prepared INSERT run for every row: the driver's fastest plain path."""

    name: str = "executemany"
    operation: Operation = "create"
    priority: int = 10

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        return RETURNS_NO_IDS if request.return_ids else None

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        sql = table.insert(request.columns, returning=False)
        inserted = 0
        for chunk in chunks(request.rows, request.batch_size):
            inserted += await session.executemany(sql, chunk, schema=table.schema, operation="bulk_create")
        return BulkResult(inserted=inserted)


@attrs.frozen
class MultiRowInsert:
    """``INSERT ... VALUES (...), (...)`` sized to the parameter limit; returns ids where RETURNING exists."""

    name: str = "values"
    operation: Operation = "create"
    priority: int = 5

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        if request.return_ids and "insert" not in dialect.capabilities.returning:
            return f"it returns ids with INSERT ... RETURNING, which {dialect.name} does not have"
        return None

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        per_statement = rows_per_statement(table.dialect, request, len(request.columns))
        inserted = 0
        ids: list[Any] | None = [] if request.return_ids else None
        for chunk in chunks(request.rows, per_statement):
            sql = insert_values_sql(table, request.columns, len(chunk), Params(table.dialect))
            values = [value for row in chunk for value in row]
            if ids is not None:
                sql += f" RETURNING {table.quoted[table.pk]}"
                rows = await session.fetch(sql, values, schema=table.schema, operation="bulk_create")
                ids.extend(row[0] for row in rows)
                inserted += len(rows)
            else:
                result = await session.execute(sql, values, schema=table.schema, operation="bulk_create")
                inserted += result.rowcount
        return BulkResult(inserted=inserted, ids=ids)


@attrs.frozen
class CheckThenUpsert:
    """Count the keys that exist, then upsert every row: exact counts on any dialect with upsert.

    The count is exact when no other writer touches the same keys between the
    two statements (SQLite's write lock guarantees it; server dialects
    register strategies that measure inside the one statement).
    """

    name: str = "upsert"
    operation: Operation = "upsert"
    priority: int = 5

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        return None if dialect.capabilities.upsert else f"{dialect.name} declares no upsert capability"

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        await refuse_conflicts_outside_scope(session, request)
        table = request.table
        dialect = table.dialect
        columns = request.columns
        key_positions = [columns.index(c) for c in request.conflict_on]
        placeholders = [dialect.placeholder(i + 1) for i in range(len(columns))]
        upsert = dialect.upsert_sql(
            table.schema.table,
            columns,
            placeholders,
            request.conflict_on,
            request.update_fields,
            request.increments,
            conflict_where=dialect.conflict_where(table.schema, request.conflict_on),
        )
        per_statement = rows_per_statement(dialect, request, len(key_positions))
        existing = 0
        for chunk in chunks(request.rows, per_statement):
            params = Params(dialect)
            condition = key_list_condition(table, request.conflict_on, len(chunk), params)
            values: list[Any] = [row[p] for row in chunk for p in key_positions]
            params.values = values
            condition += scope_condition(table, request, params)
            sql = f"SELECT COUNT(*) FROM {table.table} WHERE {condition}"
            rows = await session.fetch(sql, params.values, schema=table.schema, operation="bulk_upsert")
            existing += int(rows[0][0])
        for chunk in chunks(request.rows, request.batch_size):
            await session.executemany(upsert, chunk, schema=table.schema, operation="bulk_upsert")
        updated = existing if request.update_fields else 0
        return BulkResult(inserted=len(request.rows) - existing, updated=updated)


@attrs.frozen
class ExecuteManyUpdate:
    """``UPDATE ... WHERE pk = ?`` run for every row."""

    name: str = "executemany"
    operation: Operation = "update"
    priority: int = 5

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        return None

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        params = Params(table.dialect)
        assignments = ", ".join(f"{table.quoted[c]} = {params.add(None)}" for c in request.columns)
        condition = f"{table.quoted[table.pk]} = {params.add(None)}"
        width = len(params.values)
        condition += scope_condition(table, request, params)
        scope_values = params.values[width:]
        sql = f"UPDATE {table.table} SET {assignments} WHERE {condition}"
        rows = [list(row) + scope_values for row in request.rows] if scope_values else request.rows
        updated = 0
        for chunk in chunks(rows, request.batch_size):
            updated += await session.executemany(sql, chunk, schema=table.schema, operation="bulk_update")
        return BulkResult(updated=updated)


@attrs.frozen
class KeyListDelete:
    """``DELETE ... WHERE pk IN (...)`` sized to the parameter limit."""

    name: str = "in_list"
    operation: Operation = "delete"
    priority: int = 5

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        return None

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        deleted = 0
        for chunk in chunks(request.keys, rows_per_statement(table.dialect, request, 1)):
            params = Params(table.dialect)
            sql = delete_statement(table, params)
            start = len(params.values)
            condition = key_list_condition(table, (table.pk,), len(chunk), params)
            params.values[start:] = list(chunk)
            condition += scope_condition(table, request, params)
            result = await session.execute(
                f"{sql} WHERE {condition}", params.values, schema=table.schema, operation="bulk_delete"
            )
            deleted += result.rowcount
        return BulkResult(deleted=deleted)


GENERIC_STRATEGIES = (ExecuteManyInsert(), MultiRowInsert(), CheckThenUpsert(), ExecuteManyUpdate(), KeyListDelete())
