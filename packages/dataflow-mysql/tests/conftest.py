"""A fresh database on the real MySQL/MariaDB server for every test (helpers: mysql_helpers.py).

The server is ``DATAFLOW_TEST_MYSQL_URL`` (default ``mysql://root@127.0.0.1:3306/test``);
each test gets its own database, created before and dropped after it, so no
test depends on another's leftovers or on the order they run in. With ``CI``
set an unreachable server fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pymysql
import pytest
from mysql_helpers import SERVER_URL, admin_connection, database_url

from dataflow.url import DatabaseURL


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
