"""Importing dataflow_sqlite, or making a DataFlow of a sqlite:// URL, imports no sqlite3; the first pool does."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dataflow import DataFlow
from dataflow.loops import run_sync
from dataflow.testing.helpers import driver_imports

DRIVERS = ("sqlite3", "_sqlite3")


def test_the_driver_is_imported_when_the_first_pool_opens(tmp_path: Path) -> None:
    imported, made, pooled = driver_imports("dataflow_sqlite", f"sqlite:///{tmp_path / 'app.db'}", DRIVERS)
    assert imported == [] and made == []
    assert pooled == ["_sqlite3", "sqlite3"]


def test_returning_is_promised_once_the_pool_has_read_the_library_version(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        assert db.dialect.capabilities.returning == frozenset()
        run_sync(db.pool)
        expected = {"insert", "update", "delete"} if sqlite3.sqlite_version_info >= (3, 35) else set()
        assert db.dialect.capabilities.returning == expected
    finally:
        db.close()
