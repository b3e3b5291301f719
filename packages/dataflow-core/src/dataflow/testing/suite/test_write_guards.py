"""A write by filter that would touch every row needs ``confirmed=True``, on every node that writes by filter."""

from __future__ import annotations

from typing import Any

import pytest

from ...database import DataFlow
from ...errors import ValidationError
from ..helpers import failure, records, run_node

EVERY_ROW: list[Any] = [
    None,
    {},
    {"$and": []},
    {"$or": [{}]},
    {"$not": {"$or": []}},
    {"$and": [{}, {"$or": [{}]}]},
    {"$or": [{"name": "Bo"}, {}]},
    {"age": {"$nin": []}},
    {"$not": {"age": {"$in": []}}},
    {"$or": [{"team.name": "Reds"}, {"$and": []}]},
]
"""Filters that match every row by their shape alone."""

WRITERS: dict[str, dict[str, Any]] = {
    "UserUpdateNode": {"fields": {"age": 99}},
    "UserDeleteNode": {},
    "UserBulkUpdateNode": {"fields": {"age": 99}},
    "UserBulkDeleteNode": {},
}
"""Every node that writes by ``filter``, with what else it needs."""


def touched(db: DataFlow, before: list[dict[str, Any]]) -> bool:
    return records(db, "User") != before


@pytest.fixture
def two_users(users: DataFlow) -> list[dict[str, Any]]:
    people = [{"name": "Ann", "email": "ann@x", "age": 30}, {"name": "Bo", "email": "bo@x", "age": 5}]
    run_node(users, "UserBulkCreateNode", {"data": people})
    return records(users, "User")


@pytest.mark.parametrize("node", list(WRITERS))
def test_a_filter_matching_every_row_is_refused_without_confirmation(
    users: DataFlow, two_users: list[dict[str, Any]], node: str
) -> None:
    for shape in EVERY_ROW:
        error = failure(users, node, {"filter": shape, **WRITERS[node]})
        assert isinstance(error, ValidationError), (shape, error)
        assert error.field == "filter" and "confirmed=True" in str(error), shape
        assert not touched(users, two_users), shape


@pytest.mark.parametrize("node", list(WRITERS))
@pytest.mark.parametrize("shape", [None, {"$or": [{}]}, {"$not": {"$or": []}}])
def test_confirmed_true_writes_every_row(
    users: DataFlow, two_users: list[dict[str, Any]], node: str, shape: Any
) -> None:
    result = run_node(users, node, {"filter": shape, "confirmed": True, **WRITERS[node]})
    assert result in ({"updated": 2}, {"deleted": 2})
    remaining = records(users, "User")
    assert remaining == [] or [r["age"] for r in remaining] == [99, 99]


@pytest.mark.parametrize("node", list(WRITERS))
def test_a_filter_whose_dead_branches_fold_away_writes_only_what_it_matches(
    users: DataFlow, two_users: list[dict[str, Any]], node: str
) -> None:
    # The folded-away branches bound values of their own: the statement must not carry them.
    narrow = {"$or": [{"name": "Bo"}, {"$and": [{"name": "Ann"}, {"$or": []}]}, {"age": {"$in": []}}]}
    result = run_node(users, node, {"filter": narrow, **WRITERS[node]})
    assert result in ({"updated": 1}, {"deleted": 1})
    nothing = {"$and": [{"name": "Ann"}, {"age": {"$gte": 1}}, {"$or": []}]}
    assert run_node(users, node, {"filter": nothing, **WRITERS[node]}) in ({"updated": 0}, {"deleted": 0})
    ann = [r for r in records(users, "User") if r["name"] == "Ann"]
    assert ann == [two_users[0]]


@pytest.mark.parametrize("node", list(WRITERS))
def test_confirmed_must_be_a_boolean(users: DataFlow, two_users: list[dict[str, Any]], node: str) -> None:
    error = failure(users, node, {"filter": {}, "confirmed": "yes", **WRITERS[node]})
    assert isinstance(error, ValidationError) and error.field == "confirmed"
    assert not touched(users, two_users)
