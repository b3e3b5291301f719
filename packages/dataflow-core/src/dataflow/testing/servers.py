"""Fresh, empty databases on the test servers, for tests that run on every backend.

    from dataflow.testing.servers import any_database_url  # a fixture: sqlite, postgres, mysql

PostgreSQL is ``DATAFLOW_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``):
one database per test session, one schema per test. MySQL/MariaDB is ``DATAFLOW_TEST_MYSQL_URL``
(default ``mysql://root@127.0.0.1:3306/test``): one database per test. With ``CI`` set an
unreachable server fails the test; otherwise it is skipped. Drivers are imported only when used.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..url import DatabaseURL

BACKENDS = ("sqlite", "postgres", "mysql")


def server_url(backend: str) -> str:
    if backend == "postgres":
        return os.environ.get("DATAFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    return os.environ.get("DATAFLOW_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")


def unreachable(backend: str, error: BaseException) -> None:
    """Fail (under CI) or skip a test whose server cannot be reached."""
    reason = f"{backend} at {DatabaseURL.parse(server_url(backend))} is not reachable: {error}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: an unreachable server is a failure)")
    pytest.skip(reason)


def with_database(url: str, database: str, query: str = "") -> str:
    """``url`` pointing at another database (and query string), password kept."""
    parsed = DatabaseURL.parse(url)
    base = DatabaseURL(
        scheme=parsed.scheme,
        username=parsed.username,
        password=parsed.password,
        host=parsed.host or "127.0.0.1",
        port=parsed.port,
        database=database,
    )
    return base.render(hide_password=False) + (f"?{query}" if query else "")


async def _postgres(url: str, *statements: str) -> None:
    import asyncpg  # noqa: PLC0415 - a driver: the sqlite env runs these helpers without it

    connection = await asyncpg.connect(url, timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _mysql(url: str, *statements: str) -> None:
    import pymysql  # noqa: PLC0415 - a driver: the sqlite env runs these helpers without it

    parsed = DatabaseURL.parse(url)
    connection = pymysql.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 3306,
        user=parsed.username or "root",
        password=parsed.password or "",
        connect_timeout=5,
    )
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


@pytest.fixture(scope="session")
def postgres_session_database() -> Iterator[str]:
    """A PostgreSQL database for this test session, dropped at its end."""
    name = f"dataflow_test_{os.getpid()}_{secrets.token_hex(3)}"
    url = server_url("postgres")
    try:
        asyncio.run(_postgres(url, f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        unreachable("postgres", exc)
    try:
        yield with_database(url, name)
    finally:
        asyncio.run(_postgres(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _fresh(backend: str, request: Any, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    name = f"t_{secrets.token_hex(6)}"
    if backend == "postgres":
        database = request.getfixturevalue("postgres_session_database")
        asyncio.run(_postgres(database, f'CREATE SCHEMA "{name}"'))
        try:
            yield f"{database}?schema={name}"
        finally:
            asyncio.run(_postgres(database, f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        return
    url = server_url("mysql")
    try:
        _mysql(url, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    except Exception as exc:  # noqa: BLE001
        unreachable("mysql", exc)
    try:
        yield with_database(url, name)
    finally:
        _mysql(url, f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(params=BACKENDS)
def any_database_url(request: Any, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database, once per backend (SQLite file, PostgreSQL schema, MySQL database)."""
    yield from _fresh(request.param, request, tmp_path)


@pytest.fixture(params=("postgres", "mysql"))
def server_database_url(request: Any, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on each server backend (PostgreSQL, MySQL/MariaDB)."""
    yield from _fresh(request.param, request, tmp_path)


def fresh_database(backend: str, request: Any, tmp_path: Path) -> Iterator[str]:
    """A generator fixture body for one backend; see :func:`any_database_url`."""
    return _fresh(backend, request, tmp_path)
