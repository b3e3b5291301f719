"""BulkUpsert as ``INSERT ... ON DUPLICATE KEY UPDATE``, with counts measured by the server.

MySQL's affected-rows count cannot tell the outcome apart: an insert counts
1, an update that changes the row 2, one that changes nothing 0 (1 with
CLIENT_FOUND_ROWS), so ``affected // 2`` is wrong whenever values repeat.
Instead the first assignment of the UPDATE clause, which the server runs
once for every row that met an existing one, counts in session variables:

- ``@dataflow_dup``: rows that met an existing row (so ``inserted = rows - dup``);
- ``@dataflow_key``: of those, rows that met it on ``conflict_on`` (the rest
  collided on another unique key, which is an error, as it is on PostgreSQL);
- ``@dataflow_upd``: of those, rows whose existing row is within the run's
  scope (tenancy, not soft-deleted); only those are updated.

``@dataflow_ok`` carries that last test to the other assignments. Nested
``IF``s fix the order of evaluation (a condition runs before its branches),
and assignments run left to right, so every flag is read after it is set.
The counts are exact under any isolation level and any concurrency: they
are what the statement itself did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from dataflow.bulk.strategy import BulkRequest, BulkResult, Operation
from dataflow.dialect import Dialect
from dataflow.errors import UniqueViolationError
from dataflow.filters import compile_filter
from dataflow.session import Session
from dataflow.sql import Params

from ..literals import pack_statements, render, row_literal
from ..server import NEW_ROW
from .common import check_conflict_target, chunk_size, insert_prefix, mysql_dialect, reported_sql, statement_bytes

if TYPE_CHECKING:
    from ..dialect import MySQLDialect

RESET = "SET @dataflow_ok = 0, @dataflow_dup = 0, @dataflow_key = 0, @dataflow_upd = 0"
READ = "SELECT @dataflow_dup, @dataflow_key, @dataflow_upd"


def update_clause(dialect: MySQLDialect, request: BulkRequest) -> tuple[str, list[Any]]:
    """`` [AS new] ON DUPLICATE KEY UPDATE <counting assignment>, <guarded updates>`` and the scope's values."""
    table = request.table
    params = Params(dialect)
    key_match = " AND ".join(f"{table.quoted[c]} <=> {dialect.new_value(c)}" for c in request.conflict_on)
    visible = key_match
    if request.scope is not None:
        visible = f"({key_match}) AND ({compile_filter(request.scope, table, params)})"
    first = table.quoted[request.conflict_on[0]]
    steps = [
        f"(@dataflow_ok := COALESCE({visible}, 0))",
        "(@dataflow_dup := @dataflow_dup + 1)",
        f"(@dataflow_key := @dataflow_key + COALESCE({key_match}, 0))",
        "(@dataflow_upd := @dataflow_upd + @dataflow_ok)",
    ]
    counting = first
    for step in reversed(steps):
        counting = f"IF({step} IS NULL, {first}, {counting})"
    assignments = [f"{first} = {counting}"]
    for column in request.update_fields:
        quoted = table.quoted[column]
        assignments.append(f"{quoted} = IF(@dataflow_ok, {dialect.new_value(column)}, {quoted})")
    for column in request.increments:
        quoted = table.quoted[column]
        assignments.append(f"{quoted} = IF(@dataflow_ok, {quoted} + 1, {quoted})")
    alias = f" AS {dialect.quote(NEW_ROW)}" if dialect.row_alias else ""
    return f"{alias} ON DUPLICATE KEY UPDATE {', '.join(assignments)}", list(params.values)


@attrs.frozen
class CountedUpsert:
    """Multi-row ``INSERT ... ON DUPLICATE KEY UPDATE`` that counts inserted and updated rows exactly."""

    name: str = "mysql_upsert"
    operation: Operation = "upsert"
    priority: int = 20

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        return None

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        schema = table.schema
        dialect = mysql_dialect(table.dialect)
        check_conflict_target(schema, request.conflict_on)
        prefix = insert_prefix(request)
        clause, values = update_clause(dialect, request)
        suffix = render(clause, values)
        literals = [row_literal(row) for row in request.rows]
        statements = pack_statements(prefix, literals, suffix, statement_bytes(dialect), chunk_size(request))

        async def upsert(c: Any) -> Any:
            await c.execute(RESET)
            for statement in statements:
                await c.execute(statement)
            return (await c.fetch(READ))[0]

        met, on_key, visible = (
            int(v)
            for v in await session.call(
                upsert, sql=reported_sql(request, clause), schema=schema, operation="bulk_upsert"
            )
        )
        conflict = ", ".join(request.conflict_on)
        if met > on_key:
            raise UniqueViolationError(
                f"{schema.name}: {met - on_key} row(s) collide with existing records on a unique key other than "
                f"({conflict}); nothing was written",
                model=schema.name,
                fields=request.conflict_on,
            )
        if request.update_fields and visible < on_key:
            raise UniqueViolationError(
                f"{schema.name}: {on_key - visible} row(s) match records by ({conflict}) that this run cannot "
                "see (another tenant's, or soft-deleted); nothing was written",
                model=schema.name,
                fields=request.conflict_on,
            )
        inserted = len(request.rows) - met
        return BulkResult(inserted=inserted, updated=visible if request.update_fields else 0)
