"""Fixtures of the replica tests: one real PostgreSQL pair and one real MariaDB pair per test session.

Each pair is a primary and a streaming replica started in a temp dir on free
loopback ports (:mod:`dataflow.testing.replication`), never the shared
servers. With ``CI`` set a pair that cannot start fails the tests; without,
they are skipped. Each test gets a fresh schema (PostgreSQL) or database
(MariaDB) on the primary, already replicated when the test starts.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from replica_sql import pg_execute, pg_fetch, wait_until

from dataflow.testing.replication import (
    MariaDBPair,
    PgBouncer,
    PostgresPair,
    ReplicationUnavailable,
    start_mariadb_pair,
    start_pgbouncer,
    start_postgres_pair,
)


def _unavailable(what: str, error: BaseException) -> None:
    reason = f"{what} replication could not start: {error}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: this is a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_pair() -> Iterator[PostgresPair]:
    try:
        pair = start_postgres_pair(Path(tempfile.mkdtemp(prefix="dataflow_pg_pair_")))
    except (ReplicationUnavailable, OSError) as exc:
        _unavailable("PostgreSQL", exc)
    try:
        yield pair
    finally:
        pair.close()


@pytest.fixture(scope="session")
def mariadb_pair() -> Iterator[MariaDBPair]:
    try:
        pair = start_mariadb_pair(Path(tempfile.mkdtemp(prefix="dataflow_mariadb_pair_")))
    except (ReplicationUnavailable, OSError) as exc:
        _unavailable("MariaDB", exc)
    try:
        yield pair
    finally:
        pair.close()


@pytest.fixture
def pg_urls(pg_pair: PostgresPair) -> Iterator[tuple[str, str]]:
    """(primary URL, replica URL) of a fresh schema that the replica already has."""
    schema = f"t_{secrets.token_hex(5)}"
    asyncio.run(pg_execute(pg_pair.primary_url, f'CREATE SCHEMA "{schema}"'))
    replica = pg_pair.replica_url
    wait_until(lambda: asyncio.run(pg_fetch(replica, "SELECT 1 FROM pg_namespace WHERE nspname = $1", schema)))
    query = f"?schema={schema}&application_name=df_{schema}"
    try:
        yield pg_pair.primary_url + query, replica + query
    finally:
        pg_pair.delay(0)
        asyncio.run(pg_execute(pg_pair.primary_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def mariadb_urls(mariadb_pair: MariaDBPair) -> Iterator[tuple[str, str]]:
    """(primary URL, replica URL) of a fresh database that the replica already has."""
    name = f"t_{secrets.token_hex(5)}"
    mariadb_pair.sql("primary", f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    wait_until(lambda: mariadb_pair.sql("replica", f"SHOW DATABASES LIKE '{name}'"))
    base_primary = mariadb_pair.primary_url.rsplit("/", 1)[0]
    base_replica = mariadb_pair.replica_url.rsplit("/", 1)[0]
    try:
        yield f"{base_primary}/{name}", f"{base_replica}/{name}"
    finally:
        mariadb_pair.delay(0)
        mariadb_pair.sql("primary", f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(params=("postgres", "mariadb"))
def replicated(request: Any) -> tuple[str, str, Any]:
    """(primary URL, replica URL, pair) on each backend."""
    if request.param == "postgres":
        primary, replica = request.getfixturevalue("pg_urls")
        return primary, replica, request.getfixturevalue("pg_pair")
    primary, replica = request.getfixturevalue("mariadb_urls")
    return primary, replica, request.getfixturevalue("mariadb_pair")


APP_ROLE = "dataflow_app"
"""An ordinary login role of the pair's primary, let in by the PgBouncer fixtures: policies bind it, not superusers."""


@pytest.fixture(scope="session")
def app_role(pg_pair: PostgresPair) -> str:
    create = f"DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    asyncio.run(pg_execute(pg_pair.primary_url, create))
    return APP_ROLE


@pytest.fixture(scope="session")
def pgbouncer(pg_pair: PostgresPair, app_role: str) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of the pair's primary, two server connections per database and user."""
    try:
        bouncer = start_pgbouncer(
            Path(tempfile.mkdtemp(prefix="dataflow_pgbouncer_")),
            pg_pair.primary_port,
            pool_size=2,
            users=("postgres", app_role),
        )
    except (ReplicationUnavailable, OSError) as exc:
        _unavailable("PgBouncer", exc)
    try:
        yield bouncer
    finally:
        bouncer.close()


@pytest.fixture(scope="session")
def bouncer_session_database(pg_pair: PostgresPair) -> Iterator[str]:
    """A database on the primary for the PgBouncer tests, reached through PgBouncer by name."""
    name = f"b_{secrets.token_hex(5)}"
    asyncio.run(pg_execute(pg_pair.primary_url, f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(pg_execute(pg_pair.primary_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def bouncer_database(pg_pair: PostgresPair, bouncer_session_database: str) -> str:
    """That database with an empty ``public`` schema (PgBouncer carries no ``search_path``: one schema for all)."""
    base = pg_pair.primary_url.rsplit("/", 1)[0]
    asyncio.run(pg_execute(f"{base}/{bouncer_session_database}", "DROP SCHEMA IF EXISTS public CASCADE",
                           "CREATE SCHEMA public"))  # fmt: skip
    return bouncer_session_database
