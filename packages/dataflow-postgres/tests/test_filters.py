"""Filter values reach PostgreSQL only as parameters and match literally."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pg_testing import run_node

from dataflow import DataFlow, ValidationError, WorkflowError

TRICKY = [
    "O'Brien",
    'say "hi"',
    "back\\slash",
    "$1",
    "$1; DROP TABLE person; --",
    "100%_sure",
    "tab\there",
    "emoji 🎉",
    "'; SELECT pg_sleep(10); --",
]


@pytest.fixture
def db(dataflow_database_url: str) -> Iterator[DataFlow]:
    instance = DataFlow(dataflow_database_url)

    @instance.model
    class Person:
        name: str

    run_node(instance, "PersonBulkCreateNode", {"data": [{"name": n} for n in [*TRICKY, "plain", "Back\\Slash"]]})
    yield instance
    instance.close()


@pytest.mark.parametrize("value", TRICKY)
def test_equality_matches_literally(db: DataFlow, value: str) -> None:
    found = run_node(db, "PersonListNode", {"filter": {"name": value}})["records"]
    assert [r["name"] for r in found] == [value]


def test_in_and_not_in_match_literally(db: DataFlow) -> None:
    found = run_node(db, "PersonListNode", {"filter": {"name": {"$in": TRICKY[:4]}}, "order_by": ["id"]})
    assert [r["name"] for r in found["records"]] == TRICKY[:4]
    assert run_node(db, "PersonCountNode", {"filter": {"name": {"$nin": TRICKY}}}) == {"count": 2}


def test_like_treats_backslash_as_an_ordinary_character(db: DataFlow) -> None:
    found = run_node(db, "PersonListNode", {"filter": {"name": {"$like": "back\\%"}}})["records"]
    assert [r["name"] for r in found] == ["back\\slash"]
    found = run_node(db, "PersonListNode", {"filter": {"name": {"$like": "100%"}}})["records"]
    assert [r["name"] for r in found] == ["100%_sure"]


def test_ilike_ignores_case(db: DataFlow) -> None:
    found = run_node(db, "PersonListNode", {"filter": {"name": {"$ilike": "BACK\\SLASH"}}, "order_by": ["id"]})
    assert [r["name"] for r in found["records"]] == ["back\\slash", "Back\\Slash"]
    assert run_node(db, "PersonCountNode", {"filter": {"name": {"$like": "BACK%"}}}) == {"count": 0}


def test_nul_in_a_filter_value_is_a_validation_error(db: DataFlow) -> None:
    with pytest.raises(WorkflowError) as info:
        run_node(db, "PersonListNode", {"filter": {"name": "a\x00b"}})
    assert isinstance(info.value.cause, ValidationError) and info.value.cause.field == "name"


def test_nul_in_a_like_pattern_is_a_validation_error(db: DataFlow) -> None:
    with pytest.raises(WorkflowError) as info:
        run_node(db, "PersonListNode", {"filter": {"name": {"$like": "a\x00%"}}})
    assert isinstance(info.value.cause, ValidationError)


def test_updates_and_deletes_by_tricky_filters_touch_only_the_match(db: DataFlow) -> None:
    assert run_node(db, "PersonBulkUpdateNode", {"filter": {"name": "$1"}, "fields": {"name": "one"}}) == {"updated": 1}
    assert run_node(db, "PersonBulkDeleteNode", {"filter": {"name": "O'Brien"}}) == {"deleted": 1}
    assert run_node(db, "PersonCountNode") == {"count": len(TRICKY) + 1}
