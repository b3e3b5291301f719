"""Input crafted to break the SQL (deep filters, several statements, literal %, no columns) gets a clear error."""

from __future__ import annotations

from typing import Any

import pytest

from ...database import DataFlow
from ...errors import FilterError, ValidationError
from ...filters import MAX_FILTER_DEPTH
from ..helpers import count, failure, run_node


def seeded(db: DataFlow) -> DataFlow:
    team = run_node(db, "TeamCreateNode", {"name": "Core"})
    run_node(db, "UserBulkCreateNode", {"data": [{"name": n, "email": f"{n}@x", "age": a, "team_id": team["id"]}
                                                 for n, a in (("Ann", 31), ("Bob", 17), ("Cid", 45))]})  # fmt: skip
    return db


def negated(times: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"age": 31}
    for _ in range(times):
        condition = {"$not": condition}
    return condition


def test_a_filter_nested_within_the_limit_runs_and_a_deeper_one_is_a_filter_error(users: DataFlow) -> None:
    seeded(users)
    # An even number of $not is the condition itself: one user is 31.
    assert count(users, "User", negated(MAX_FILTER_DEPTH - 2)) == 1
    for depth in (MAX_FILTER_DEPTH, 100_000):  # 100,000 levels once reached Python's recursion limit
        error = failure(users, "UserCountNode", {"filter": negated(depth)})
        assert isinstance(error, FilterError) and f"more than {MAX_FILTER_DEPTH} levels" in str(error)


def test_relation_steps_count_towards_the_filter_depth(users: DataFlow) -> None:
    seeded(users)
    condition: dict[str, Any] = {"name": "Ann"}
    for _ in range(3):  # six relation steps: team, then its users, three times over
        condition = {"team": {"users": {"$some": condition}}}
    assert count(users, "User", condition) == 3
    deeper = {"team": {"users": {"$some": condition}}}
    error = failure(users, "UserCountNode", {"filter": deeper})
    assert isinstance(error, FilterError) and "a relation step counts" in str(error)


def test_an_empty_fields_list_is_refused_before_sql(users: DataFlow) -> None:
    seeded(users)
    error = failure(users, "UserListNode", {"fields": []})
    assert isinstance(error, FilterError) and error.field == "fields"


@pytest.mark.parametrize(
    "query",
    [
        "SELECT name FROM {t} WHERE age > :a; DELETE FROM {t}",
        "SELECT name FROM {t} WHERE age > :a ; /* x */ DROP TABLE {t} -- the rest",
    ],
)
def test_raw_sql_with_a_second_statement_is_refused_and_runs_nothing(users: DataFlow, query: str) -> None:
    seeded(users)
    table = users.dialect.quote(users.schema("User").table)
    with pytest.raises(ValidationError, match="one statement") as info:
        users.sql(query.format(t=table), {"a": 1})
    assert info.value.field == "query"
    assert count(users, "User") == 3


def test_raw_sql_may_end_with_a_semicolon_and_keep_one_in_a_string(users: DataFlow) -> None:
    seeded(users)
    table = users.dialect.quote(users.schema("User").table)
    assert users.sql(f"SELECT 'a;b' AS s, name FROM {table} WHERE age > :a ORDER BY name; -- done", {"a": 40}) == [
        {"s": "a;b", "name": "Cid"}
    ]


def test_a_literal_percent_in_raw_sql_means_itself_with_and_without_parameters(users: DataFlow) -> None:
    # MySQL's driver formats parameters into the text with %: LIKE 'A%', a modulo and '%s' once broke it.
    seeded(users)
    table = users.dialect.quote(users.schema("User").table)
    query = f"SELECT name, '100%' AS p, '%s' AS s FROM {table} WHERE name LIKE 'A%' AND age % 2 = :odd"
    assert users.sql(query, {"odd": 1}) == [{"name": "Ann", "p": "100%", "s": "%s"}]
    assert users.sql(f"SELECT name FROM {table} WHERE name LIKE 'B%'") == [{"name": "Bob"}]


def test_upsert_on_a_field_several_records_share_is_refused_and_changes_none(users: DataFlow) -> None:
    seeded(users)
    run_node(users, "UserCreateNode", {"name": "Ann", "email": "ann2@x", "age": 5})
    before = sorted((u["email"], u["age"]) for u in run_node(users, "UserListNode", {})["records"])
    single = failure(users, "UserUpsertNode", {"name": "Ann", "email": "new@x", "age": 99, "conflict_on": ["name"]})
    bulk = failure(users, "UserBulkUpsertNode", {"data": [{"name": "Ann", "email": "new@x", "age": 99}],
                                                 "conflict_on": ["name"]})  # fmt: skip
    for error in (single, bulk):
        assert isinstance(error, ValidationError) and error.field == "conflict_on", error
    assert sorted((u["email"], u["age"]) for u in run_node(users, "UserListNode", {})["records"]) == before
