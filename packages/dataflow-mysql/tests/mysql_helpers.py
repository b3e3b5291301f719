"""Helpers the MySQL tests share (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from dataflow import DataFlow
from dataflow.events import StatementExecuted
from dataflow.plugins import hookimpl, plugin_registered


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
