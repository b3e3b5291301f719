"""Fixtures for the PostgreSQL tests: a fresh database per run, a fresh schema per test.

The server is ``DATAFLOW_TEST_POSTGRES_URL`` or ``postgresql://postgres@127.0.0.1:5432/test``
(any database on it: the run creates its own and drops it at the end).
With ``CI`` set an unreachable server fails every test; without, they are skipped.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator

import asyncpg
import pytest

from dataflow.url import DatabaseURL

SERVER_URL = os.environ.get("DATAFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _with_database(url: str, database: str, query: str = "") -> str:
    parsed = DatabaseURL.parse(url)
    auth = parsed.username or ""
    if parsed.password is not None:
        auth += ":" + parsed.password
    host = f"{parsed.host or '127.0.0.1'}:{parsed.port or 5432}"
    return f"postgresql://{auth + '@' if auth else ''}{host}/{database}{'?' + query if query else ''}"


async def _admin(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(_with_database(url, DatabaseURL.parse(url).database or "postgres"), timeout=5)
    try:
        await connection.execute("SET lock_timeout = '10s'")
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """The URL of a database created for this test run (no query options), dropped after it."""
    name = f"dataflow_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        run(_admin(SERVER_URL, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        reason = f"PostgreSQL at {DatabaseURL.parse(SERVER_URL)} is not reachable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: an unreachable server is a failure)")
        pytest.skip(reason)
    try:
        yield _with_database(SERVER_URL, name)
    finally:
        run(_admin(SERVER_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_schema(pg_database: str) -> Iterator[str]:
    """An empty schema in the run's database, dropped after the test."""
    name = f"t_{secrets.token_hex(6)}"
    run(_admin(pg_database, f'CREATE SCHEMA "{name}"'))
    try:
        yield name
    finally:
        run(_admin(pg_database, f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


@pytest.fixture
def dataflow_database_url(pg_database: str, pg_schema: str) -> str:
    """The URL of an empty schema, for the compliance suite and these tests.

    Its ``application_name`` is unique to the test, so that server-side
    connection counts see only this test's connections.
    """
    return f"{pg_database}?schema={pg_schema}&application_name=dftest_{pg_schema}"
