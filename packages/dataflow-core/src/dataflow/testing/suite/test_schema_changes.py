"""Models that change under a database with rows: what development mode adds, what a migration refuses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ...database import DataFlow
from ...errors import MigrationError
from ..helpers import failure, open_db, records, run_node


@pytest.fixture
def reopen(dataflow_database_url: str) -> Iterator[Callable[..., DataFlow]]:
    """``reopen(**options)``: a new DataFlow on the test database; every one is closed after the test."""
    opened: list[DataFlow] = []

    def make(**options: Any) -> DataFlow:
        db = open_db(dataflow_database_url, **options)
        opened.append(db)
        return db

    yield make
    for db in opened:
        if not db.closed:
            db.close()


def _seed_notes(reopen: Callable[..., DataFlow]) -> None:
    db = reopen()

    @db.model
    class Note:
        title: str

    run_node(db, "NoteBulkCreateNode", {"data": [{"title": "a"}, {"title": "b"}]})
    db.close()


def test_development_adds_a_not_null_column_with_its_default(reopen: Callable[..., DataFlow]) -> None:
    _seed_notes(reopen)
    db = reopen()

    @db.model
    class Note:
        title: str
        stars: int = 3

    created = run_node(db, "NoteCreateNode", {"title": "c", "stars": 5})
    assert created["stars"] == 5
    assert [(r["title"], r["stars"]) for r in records(db, "Note")] == [("a", 3), ("b", 3), ("c", 5)]
    assert db.migration_plan().empty


def test_development_refuses_a_not_null_column_it_cannot_add_and_says_to_migrate(
    reopen: Callable[..., DataFlow],
) -> None:
    _seed_notes(reopen)
    db = reopen()

    @db.model
    class Note:
        title: str
        stars: int = 3
        __dataflow__ = {"indexes": [("title",)]}

    cause = failure(db, "NoteCreateNode", {"title": "c"})
    assert isinstance(cause, MigrationError)
    assert "Note.stars" in cause.message and "dataflow migrate apply" in cause.message
    assert "add index on note (title)" in cause.message
