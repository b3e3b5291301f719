"""Helpers the MySQL tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import pymysql

from dataflow import DataFlow
from dataflow.events import StatementExecuted
from dataflow.plugins import hookimpl, plugin_registered
from dataflow.url import DatabaseURL

SERVER_URL = os.environ.get("DATAFLOW_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")


def admin_connection(database: str | None = None) -> Any:
    url = DatabaseURL.parse(SERVER_URL)
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=database,
        autocommit=True,
        charset="utf8mb4",
    )


def database_url(name: str, **options: str) -> str:
    url = DatabaseURL.parse(SERVER_URL)
    auth = url.username or "root"
    if url.password:
        auth += ":" + url.password
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"mysql://{auth}@{url.host or '127.0.0.1'}:{url.port or 3306}/{name}" + (f"?{query}" if query else "")


def server_connections(database: str) -> int:
    """Sessions the server has open on ``database``, seen from the server's side."""
    admin = admin_connection()
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s", (database,))
            return int(cursor.fetchone()[0])
    finally:
        admin.close()


def open_db(url: str, **options: Any) -> DataFlow:
    return DataFlow(url, env="test", **options)


def without_returning(db: DataFlow) -> None:
    """Make ``db`` behave as on MySQL 8 (no RETURNING), on this MariaDB, once its pool exists."""
    db.create_tables()
    dialect = db.dialect
    dialect.capabilities = attrs.evolve(dialect.capabilities, returning=frozenset())


class StatementLog:
    """A monitor plugin that keeps every statement DataFlow runs."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def handle(self, event: object) -> None:
        if isinstance(event, StatementExecuted):
            self.statements.append(event.sql)

    @hookimpl
    def dataflow_register_monitors(self, register: Any) -> None:
        register(self)


@contextmanager
def statement_log() -> Iterator[StatementLog]:
    """Record statements of DataFlow instances created inside the block."""
    log = StatementLog()
    with plugin_registered(log, "mysql-test-statement-log"):
        yield log
