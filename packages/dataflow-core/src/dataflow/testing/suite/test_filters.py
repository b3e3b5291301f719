"""The filter language on a real database: every operator, and values that look like SQL."""

from __future__ import annotations

from typing import Any

import pytest

from ...database import DataFlow
from ...errors import FilterError
from ..helpers import count, define_people, failure, records, run_node


@pytest.fixture
def population(db: DataFlow) -> DataFlow:
    define_people(db)
    data = [
        {"name": "Ann", "email": "ann@x", "age": 30, "score": 1.5},
        {"name": "bob", "email": "bob@x", "age": 17, "score": None},
        {"name": "Cid", "email": "cid@x", "age": 45, "score": 9.0, "active": False},
        {"name": "Dee", "email": "dee@x", "age": 30, "score": None},
    ]
    run_node(db, "UserBulkCreateNode", {"data": data})
    return db


def names(db: DataFlow, filter: dict[str, Any]) -> list[str]:
    return sorted(r["name"] for r in records(db, "User", filter=filter))


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"age": 30}, ["Ann", "Dee"]),
        ({"age": {"$eq": 17}}, ["bob"]),
        ({"age": {"$ne": 30}}, ["Cid", "bob"]),
        ({"score": {"$ne": 1.5}}, ["Cid", "Dee", "bob"]),
        ({"age": {"$gt": 30}}, ["Cid"]),
        ({"age": {"$gte": 30}}, ["Ann", "Cid", "Dee"]),
        ({"age": {"$lt": 30}}, ["bob"]),
        ({"age": {"$lte": 30}}, ["Ann", "Dee", "bob"]),
        ({"age": {"$gt": 17, "$lt": 45}}, ["Ann", "Dee"]),
        ({"name": {"$in": ["Ann", "Cid", "nobody"]}}, ["Ann", "Cid"]),
        ({"name": {"$in": []}}, []),
        ({"name": {"$nin": ["Ann", "Cid"]}}, ["Dee", "bob"]),
        ({"score": {"$nin": [1.5]}}, ["Cid", "Dee", "bob"]),
        ({"name": {"$like": "A%"}}, ["Ann"]),
        ({"name": {"$like": "a%"}}, []),
        ({"name": {"$ilike": "B%"}}, ["bob"]),
        ({"score": {"$null": True}}, ["Dee", "bob"]),
        ({"score": {"$null": False}}, ["Ann", "Cid"]),
        ({"score": None}, ["Dee", "bob"]),
        ({"active": False}, ["Cid"]),
        ({"$or": [{"age": 17}, {"name": "Cid"}]}, ["Cid", "bob"]),
        ({"$and": [{"age": 30}, {"name": {"$ne": "Ann"}}]}, ["Dee"]),
        ({"$not": {"age": 30}}, ["Cid", "bob"]),
        ({"age": 30, "$or": [{"name": "Ann"}, {"score": 9.0}]}, ["Ann"]),
        ({}, ["Ann", "Cid", "Dee", "bob"]),
    ],
)
def test_operator(population: DataFlow, filter: dict[str, Any], expected: list[str]) -> None:
    assert names(population, filter) == expected


def test_unknown_field_is_a_filter_error_naming_it(population: DataFlow) -> None:
    error = failure(population, "UserListNode", {"filter": {"agee": 3}})
    assert isinstance(error, FilterError) and error.field == "agee"
    assert "age" in str(error)


def test_unknown_operator_is_a_filter_error_naming_it(population: DataFlow) -> None:
    error = failure(population, "UserListNode", {"filter": {"age": {"$between": [1, 2]}}})
    assert isinstance(error, FilterError) and "$between" in str(error)


def test_sql_shaped_field_name_is_rejected_and_the_table_is_intact(population: DataFlow) -> None:
    error = failure(population, "UserListNode", {"filter": {"name; DROP TABLE user; --": 1}})
    assert isinstance(error, FilterError)
    assert count(population, "User") == 4


def test_sql_shaped_order_by_is_rejected(population: DataFlow) -> None:
    error = failure(population, "UserListNode", {"order_by": ["age; DROP TABLE user"]})
    assert isinstance(error, FilterError)
    assert count(population, "User") == 4


@pytest.mark.parametrize(
    "value",
    ["x' OR '1'='1", "Robert'); DROP TABLE user;--", 'quote " double', "back\\slash", "$1", "%s", "?", "50% off_"],
)
def test_sql_shaped_values_are_stored_and_matched_literally(population: DataFlow, value: str) -> None:
    run_node(population, "UserCreateNode", {"name": value, "email": f"{len(value)}{value}@x"})
    assert names(population, {"name": value}) == [value]
    assert count(population, "User") == 5
    assert names(population, {"name": {"$in": [value]}}) == [value]


def test_wrong_type_in_a_filter_is_a_filter_error(population: DataFlow) -> None:
    error = failure(population, "UserCountNode", {"filter": {"age": {"$gt": "abc"}}})
    assert isinstance(error, FilterError) and error.field == "age"
