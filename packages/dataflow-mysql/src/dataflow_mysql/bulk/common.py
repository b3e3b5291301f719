"""What the MySQL bulk strategies share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dataflow.bulk.strategy import BulkRequest
from dataflow.dialect import Connection, Dialect, ExecuteResult
from dataflow.errors import ValidationError
from dataflow.schema import ModelSchema
from dataflow.session import Session

from ..server import ServerInfo

if TYPE_CHECKING:
    from ..dialect import MySQLDialect


def mysql_dialect(dialect: Dialect) -> MySQLDialect | None:
    from ..dialect import MySQLDialect  # noqa: PLC0415 - the dialect module imports the bulk strategies

    return dialect if isinstance(dialect, MySQLDialect) else None


def statement_bytes(dialect: MySQLDialect) -> int:
    """The byte budget of one statement on ``dialect``'s server."""
    return (dialect.server or ServerInfo()).max_statement_bytes


def insert_prefix(request: BulkRequest) -> str:
    table = request.table
    return f"INSERT INTO {table.table} ({', '.join(table.quoted[c] for c in request.columns)}) VALUES "


def unique_keys(schema: ModelSchema) -> list[tuple[str, ...]]:
    return [(schema.primary_key,), *schema.unique]


def check_conflict_target(schema: ModelSchema, conflict_on: tuple[str, ...]) -> None:
    """MySQL cannot be told which unique key to test: ``conflict_on`` must be one of them, exactly."""
    keys = unique_keys(schema)
    if any(set(key) == set(conflict_on) for key in keys):
        return
    names = "; ".join("(" + ", ".join(key) + ")" for key in keys)
    raise ValidationError(
        f"{schema.name}: conflict_on ({', '.join(conflict_on)}) is not a unique key; MySQL picks the "
        f"conflicting key itself, so conflict_on must be the primary key or a 'unique' group: {names}",
        model=schema.name,
        field="conflict_on",
    )


def chunk_size(request: BulkRequest) -> int | None:
    """Rows per statement: the node's ``batch_size``; the packet size caps it further."""
    return request.batch_size


def reported_sql(request: BulkRequest, suffix: str = "") -> str:
    """What monitors, tracing and echo see of a multi-row statement: one row of placeholders, never values.

    The statements sent carry their rows as literals (MySQL's text protocol);
    the text reported has the shape of one row, so that every batch of a bulk
    node adds up under one statement and no value leaves the connection.
    """
    row = "(" + ", ".join(["%s"] * len(request.columns)) + ")"
    return insert_prefix(request) + row + suffix


async def execute(session: Session, statement: str, schema: ModelSchema, reported: str) -> ExecuteResult:
    """Run finished SQL text through the session (errors translated), reported to monitors as ``reported``."""

    async def action(connection: Connection) -> ExecuteResult:
        return await connection.execute(statement)

    return await session.call(action, sql=reported, schema=schema, operation="bulk_create")


async def fetch(session: Session, statement: str, schema: ModelSchema, reported: str) -> list[Sequence[Any]]:
    """Like :func:`execute`, for a statement that returns rows."""

    async def action(connection: Connection) -> list[Sequence[Any]]:
        return await connection.fetch(statement)

    return await session.call(action, sql=reported, schema=schema, operation="bulk_create")
