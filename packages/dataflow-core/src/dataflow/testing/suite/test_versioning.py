"""Optimistic locking, a core feature: ``__dataflow__ = {"versioned": True}`` on every dialect."""

from __future__ import annotations

from typing import Annotated

from ...database import DataFlow
from ...errors import ConcurrentUpdateError
from ...fields import MaxLength
from ..helpers import failure, records, run_node


def define_doc(db: DataFlow) -> None:
    @db.model
    class Doc:
        title: Annotated[str, MaxLength(100)]
        __dataflow__ = {"versioned": True}


def test_a_versioned_model_gets_a_version_column_starting_at_1(db: DataFlow) -> None:
    define_doc(db)
    assert db.schema("Doc").version_field == "version"
    assert run_node(db, "DocCreateNode", {"title": "a"})["version"] == 1
    run_node(db, "DocBulkCreateNode", {"data": [{"title": "b"}, {"title": "c"}]})
    assert [r["version"] for r in records(db, "Doc")] == [1, 1, 1]


def test_an_update_naming_the_current_version_applies_and_moves_it_on(db: DataFlow) -> None:
    define_doc(db)
    created = run_node(db, "DocCreateNode", {"title": "a"})
    updated = run_node(db, "DocUpdateNode", {"id": created["id"], "fields": {"title": "b", "version": 1}})
    assert (updated["title"], updated["version"]) == ("b", 2)
    run_node(db, "DocUpdateNode", {"id": created["id"], "fields": {"title": "c"}})
    assert [(r["title"], r["version"]) for r in records(db, "Doc")] == [("c", 3)]


def test_an_update_naming_a_stale_version_raises_concurrent_update_error_and_writes_nothing(db: DataFlow) -> None:
    define_doc(db)
    created = run_node(db, "DocCreateNode", {"title": "a"})
    run_node(db, "DocUpdateNode", {"id": created["id"], "fields": {"title": "b", "version": 1}})
    stale = failure(db, "DocUpdateNode", {"id": created["id"], "fields": {"title": "lost", "version": 1}})
    assert isinstance(stale, ConcurrentUpdateError)
    assert [(r["title"], r["version"]) for r in records(db, "Doc")] == [("b", 2)]


def test_a_bulk_update_by_filter_moves_every_record_it_changes_to_its_next_version(db: DataFlow) -> None:
    define_doc(db)
    run_node(db, "DocBulkCreateNode", {"data": [{"title": "a"}, {"title": "b"}, {"title": "c"}]})
    assert run_node(db, "DocBulkUpdateNode", {"filter": {"title": {"$in": ["a", "b"]}}, "fields": {"title": "z"}}) == {
        "updated": 2
    }
    assert sorted((r["title"], r["version"]) for r in records(db, "Doc")) == [("c", 1), ("z", 2), ("z", 2)]
