"""A fresh database on the real MySQL/MariaDB server for every test.

The server is ``DATAFLOW_TEST_MYSQL_URL`` (default ``mysql://root@127.0.0.1:3306/test``);
each test gets its own database, created before and dropped after it, so no
test depends on another's leftovers or on the order they run in. With ``CI``
set an unreachable server fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

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


@pytest.fixture(scope="session")
def mysql_server() -> None:
    """Fails (with CI set) or skips when the server cannot be reached."""
    try:
        admin_connection().close()
    except pymysql.err.MySQLError as exc:
        message = f"MySQL/MariaDB at {DatabaseURL.parse(SERVER_URL)} is unreachable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def database_name(mysql_server: None) -> Iterator[str]:
    """The name of an empty database that exists for the test only."""
    name = f"dataflow_test_{uuid.uuid4().hex[:16]}"
    admin = admin_connection()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield name
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        admin.close()


@pytest.fixture
def dataflow_database_url(database_name: str) -> str:
    """The URL of an empty database (what the compliance suite asks for)."""
    return database_url(database_name)


def server_connections(database: str) -> int:
    """Sessions the server has open on ``database``, seen from the server's side."""
    admin = admin_connection()
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s", (database,))
            return int(cursor.fetchone()[0])
    finally:
        admin.close()
