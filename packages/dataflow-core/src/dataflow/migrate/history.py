"""The ``dataflow_migrations`` table: what was applied, when, by whom, and its SQL."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import socket
from collections.abc import Sequence
from typing import Any

from ..schema import ModelSchema, schema_from_class
from ..session import Session
from ..sql import TableSQL
from .steps import Statement


class DataflowMigration:
    name: str
    checksum: str
    applied_at: dt.datetime
    applied_by: str
    statements: str
    __dataflow__ = {"table": "dataflow_migrations"}


HISTORY_SCHEMA: ModelSchema = schema_from_class(DataflowMigration, {})


def checksum(statements: Sequence[Statement]) -> str:
    """A stable fingerprint of SQL and parameters: an edited migration no longer matches it."""
    digest = hashlib.sha256()
    for sql, params in statements:
        digest.update(sql.encode())
        digest.update(repr(tuple(params)).encode())
    return digest.hexdigest()


def render_statements(statements: Sequence[Statement]) -> str:
    return "\n".join(f"{sql};" + (f" -- {list(params)!r}" if params else "") for sql, params in statements)


def applied_by() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


async def ensure_history(session: Session) -> TableSQL:
    table = TableSQL(session.dialect, HISTORY_SCHEMA)
    for sql in session.dialect.create_table_sql(HISTORY_SCHEMA, {}):
        await session.execute(sql, schema=HISTORY_SCHEMA, operation="migrate")
    return table


async def record(session: Session, table: TableSQL, name: str, statements: Sequence[Statement]) -> dict[str, Any]:
    row = {
        "name": name,
        "checksum": checksum(statements),
        "applied_at": dt.datetime.now(dt.UTC),
        "applied_by": applied_by(),
        "statements": render_statements(statements),
    }
    columns = tuple(row)
    await session.execute(table.insert(columns, returning=False), table.encode_row(row, columns), schema=HISTORY_SCHEMA)
    return row


async def read_history(session: Session, table: TableSQL) -> list[dict[str, Any]]:
    sql = f"SELECT {table.select_list} FROM {table.table} ORDER BY {table.quoted['id']}"
    return [table.decode(row) for row in await session.fetch(sql, schema=HISTORY_SCHEMA)]
