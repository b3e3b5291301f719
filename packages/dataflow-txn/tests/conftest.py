"""Fixtures: fresh databases on SQLite, PostgreSQL and MariaDB; prepared branches cleaned up.

Every coordinator a test makes is named ``t<pid>_<random>``. Before a
server database is dropped, any branch this test process left prepared is
rolled back (a prepared transaction holds its locks, and would block the
drop), so a failing test never leaves one behind on a shared server.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from txn_helpers import PREFIX, server_database

from dataflow.testing.servers import postgres_session_database  # noqa: F401 - a fixture


@pytest.fixture
def pg_url(request: Any, tmp_path: Path) -> Iterator[str]:
    """An empty PostgreSQL schema."""
    yield from server_database("postgres", request, tmp_path)


@pytest.fixture
def pg_url2(request: Any, tmp_path: Path) -> Iterator[str]:
    """A second empty PostgreSQL schema (a second participant on the same server)."""
    yield from server_database("postgres", request, tmp_path)


@pytest.fixture
def mysql_url(request: Any, tmp_path: Path) -> Iterator[str]:
    """An empty MariaDB/MySQL database."""
    yield from server_database("mysql", request, tmp_path)


@pytest.fixture(params=("postgres", "mysql"))
def server_url(request: Any, tmp_path: Path) -> Iterator[str]:
    """An empty database on each server backend."""
    yield from server_database(request.param, request, tmp_path)


@pytest.fixture(params=("sqlite", "postgres", "mysql"))
def any_url(request: Any, tmp_path: Path) -> Iterator[str]:
    """An empty database on every backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'any.db'}"
        return
    yield from server_database(request.param, request, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'local.db'}"


@pytest.fixture
def coordinator_name() -> str:
    """A coordinator name unique to this test (and to this process, for the cleanup above)."""
    return f"{PREFIX}_{secrets.token_hex(3)}"
