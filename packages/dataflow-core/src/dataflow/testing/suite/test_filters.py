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


@pytest.fixture
def tagged(db: DataFlow) -> DataFlow:
    @db.model
    class Post:
        title: str
        tags: list[str]
        votes: list[int] | None = None

    del Post
    data = [
        {"title": "one", "tags": ["a", "b"], "votes": [1, 2]},
        {"title": "two", "tags": ["b", "it's", "$1"], "votes": [3]},
        {"title": "three", "tags": [], "votes": None},
        {"title": "four", "tags": ["back\\slash", "a"], "votes": [2, 2]},
    ]
    run_node(db, "PostBulkCreateNode", {"data": data})
    return db


def titles(db: DataFlow, filter: dict[str, Any]) -> list[str]:
    return sorted(r["title"] for r in records(db, "Post", filter=filter))


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"tags": {"$contains": ["a"]}}, ["four", "one"]),
        ({"tags": {"$contains": ["a", "b"]}}, ["one"]),
        ({"tags": {"$contains": ["b", "a", "b"]}}, ["one"]),
        ({"tags": {"$contains": ["a", "zzz"]}}, []),
        ({"tags": {"$contains": []}}, ["four", "one", "three", "two"]),
        ({"tags": {"$overlaps": ["b", "zzz"]}}, ["one", "two"]),
        ({"tags": {"$overlaps": ["zzz"]}}, []),
        ({"tags": {"$overlaps": []}}, []),
        ({"tags": {"$contains": ["it's", "$1"]}}, ["two"]),
        ({"tags": {"$overlaps": ["back\\slash"]}}, ["four"]),
        ({"tags": {"$contains": ["A"]}}, []),
        ({"votes": {"$contains": [2]}}, ["four", "one"]),
        ({"votes": {"$overlaps": [3, 9]}}, ["two"]),
        ({"votes": {"$contains": []}}, ["four", "one", "two"]),
        ({"$not": {"tags": {"$contains": ["a"]}}}, ["three", "two"]),
        ({"tags": {"$overlaps": ["a"]}, "votes": {"$contains": [1]}}, ["one"]),
    ],
)
def test_list_element_operators(tagged: DataFlow, filter: dict[str, Any], expected: list[str]) -> None:
    assert titles(tagged, filter) == expected


@pytest.mark.parametrize(
    ("filter", "field", "message"),
    [
        ({"title": {"$contains": ["o"]}}, "title", "list fields"),
        ({"tags": {"$contains": "a"}}, "tags", "takes a list"),
        ({"votes": {"$overlaps": ["1"]}}, "votes", "votes"),
        ({"votes": {"$contains": [True]}}, "votes", "votes"),
    ],
)
def test_bad_list_element_filters_are_filter_errors(
    tagged: DataFlow, filter: dict[str, Any], field: str, message: str
) -> None:
    error = failure(tagged, "PostListNode", {"filter": filter})
    assert isinstance(error, FilterError) and error.field == field and message in str(error)
