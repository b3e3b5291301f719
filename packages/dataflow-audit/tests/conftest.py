"""Fixtures: a fresh database per test on every backend (SQLite file, PostgreSQL schema, MariaDB database).

With ``CI`` set an unreachable server fails the test instead of skipping it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from audit_helpers import define_models, open_db

from dataflow import DataFlow
from dataflow.testing.servers import any_database_url, postgres_session_database

__all__ = ["any_database_url", "postgres_session_database"]


@pytest.fixture
def db(any_database_url: str) -> Iterator[DataFlow]:
    """A DataFlow with the test models (User audited, Note audited on two fields, Tag not audited)."""
    instance = open_db(any_database_url)
    define_models(instance)
    yield instance
    instance.close()


@pytest.fixture
def sqlite_db(tmp_path: object) -> Iterator[DataFlow]:
    """The same models on SQLite only, for behaviour that does not depend on the backend."""
    instance = open_db(f"sqlite:///{tmp_path}/audit.db")
    define_models(instance)
    yield instance
    instance.close()


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/personal.db"
