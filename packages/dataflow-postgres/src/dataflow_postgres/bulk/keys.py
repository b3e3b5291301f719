"""BulkUpdate and BulkDelete by key lists: one statement per chunk, with typed arrays.

``UPDATE t SET a = _v._0 FROM unnest($1::text[], $2::int8[]) AS _v(_0, _k) WHERE t.id = _v._k``
and ``DELETE FROM t WHERE id = ANY($1::int8[])``, each ANDed with the
request's scope. Counts are the server's, of distinct records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from dataflow.bulk.strategy import BulkRequest, BulkResult, Operation, chunks
from dataflow.dialect import Dialect
from dataflow.filters import compile_filter
from dataflow.session import Session
from dataflow.sql import Params, delete_statement

from .arrays import SOURCE_ALIAS, array_refusal, postgres, transpose, unnest_source


def _last_per_key(rows: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
    """Rows with distinct keys (the key is last), the last row of a key winning as it would one by one."""
    by_key = {row[-1]: row for row in rows}
    return rows if len(by_key) == len(rows) else list(by_key.values())


@attrs.frozen
class UnnestUpdate:
    """``UPDATE ... FROM unnest(...)`` joining the rows on the primary key."""

    name: str = "unnest"
    operation: Operation = "update"
    priority: int = 30

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        return array_refusal(request)

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        width = len(request.columns)
        params = Params(table.dialect)
        source = unnest_source(table, (*request.columns, table.pk), params)
        names = [f"_{i}" for i in range(width)]
        pairs = zip(request.columns, names, strict=True)
        assignments = ", ".join(f"{table.quoted[column]} = {SOURCE_ALIAS}.{name}" for column, name in pairs)
        condition = f"{table.table}.{table.quoted[table.pk]} = {SOURCE_ALIAS}._k"
        if request.scope is not None:
            condition += " AND " + compile_filter(request.scope, table, params)
        scope_values = params.values[width + 1 :]
        sql = (
            f"UPDATE {table.table} SET {assignments} "
            f"FROM {source} AS {SOURCE_ALIAS}({', '.join([*names, '_k'])}) WHERE {condition}"
        )
        updated = 0
        for chunk in chunks(_last_per_key(request.rows), request.batch_size):
            values = [*transpose(chunk, width + 1), *scope_values]
            result = await session.execute(sql, values, schema=table.schema, operation="bulk_update")
            updated += result.rowcount
        return BulkResult(updated=updated)


@attrs.frozen
class AnyArrayDelete:
    """``DELETE ... WHERE pk = ANY($1::type[])`` (soft-delete models: the UPDATE that marks them)."""

    name: str = "unnest"
    operation: Operation = "delete"
    priority: int = 30

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        return None

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        element = postgres(table.dialect).array_type(table.schema.pk)
        deleted = 0
        for chunk in chunks(request.keys, request.batch_size):
            params = Params(table.dialect)
            sql = delete_statement(table, params)
            sql += f" WHERE {table.quoted[table.pk]} = ANY({params.add(list(chunk))}::{element}[])"
            if request.scope is not None:
                sql += " AND " + compile_filter(request.scope, table, params)
            result = await session.execute(sql, params.values, schema=table.schema, operation="bulk_delete")
            deleted += result.rowcount
        return BulkResult(deleted=deleted)
