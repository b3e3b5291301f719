"""The SQL escape hatch on a real database: SQLNode and db.sql, values bound, rows as dicts, inside the run."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ...database import DataFlow
from ...errors import ValidationError, WorkflowBuildError, WorkflowError
from ...events import StatementExecuted
from ...named_params import placeholder_names
from ...workflow import LocalRuntime, WorkflowBuilder
from ..helpers import count, open_db, run_node


def table(db: DataFlow) -> str:
    """The User table's name, quoted for the database ("user" is a reserved word on PostgreSQL)."""
    return db.dialect.quote(db.schema("User").table)


def seeded(db: DataFlow) -> DataFlow:
    run_node(db, "UserBulkCreateNode", {"data": [{"name": n, "email": f"{n}@x", "age": a}
                                                 for n, a in (("Ann", 31), ("Bob", 17), ("Cid", 45))]})  # fmt: skip
    return db


def test_db_sql_returns_rows_as_dicts_a_row_a_value_or_a_count(users: DataFlow) -> None:
    seeded(users)
    rows = users.sql(f"SELECT name, age FROM {table(users)} WHERE age >= :least ORDER BY age", {"least": 18})
    assert rows == [{"name": "Ann", "age": 31}, {"name": "Cid", "age": 45}]
    assert users.sql(f"SELECT name FROM {table(users)} WHERE name = :n", {"n": "Bob"}, result="row") == {"name": "Bob"}
    assert users.sql(f"SELECT name FROM {table(users)} WHERE name = :n", {"n": "nobody"}, result="row") is None
    assert users.sql(f"SELECT COUNT(*) FROM {table(users)} WHERE age < :a", {"a": 40}, result="value") == 2
    assert users.sql(f"UPDATE {table(users)} SET age = age + 1 WHERE age < :a", {"a": 40}, result="none") == 2
    assert count(users, "User", {"age": 32}) == 1


def test_values_that_look_like_sql_are_bound(users: DataFlow) -> None:
    seeded(users)
    sneaky = "x' OR '1'='1"
    assert users.sql(f"SELECT name FROM {table(users)} WHERE name = :n", {"n": sneaky}) == []
    assert users.sql("SELECT :a AS a, ':b' AS quoted", {"a": "it's"}, result="row") == {"a": "it's", "quoted": ":b"}
    assert count(users, "User") == 3


def test_placeholders_skip_strings_comments_quoted_names_and_casts() -> None:
    query = "SELECT ':no', \"x:no\", `y:no` -- :no\n /* :no */ FROM t WHERE a = :yes AND b::text = :also AND c = :yes"
    assert placeholder_names(query) == ["yes", "also"]


@pytest.mark.parametrize(
    ("query", "params", "field", "message"),
    [
        ("SELECT :a, :b", {"a": 1}, "params.b", "query uses :b, which params does not give"),
        ("SELECT :a", {"a": 1, "c": 2}, "params.c", "params gives 'c', which the query does not use"),
        ("", {}, "query", "non-empty"),
    ],
)
def test_placeholder_mismatches_are_refused_before_sql(
    users: DataFlow, query: str, params: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        users.sql(query, params)
    assert info.value.field == field and message in info.value.message


def test_an_unknown_result_kind_names_the_choices(users: DataFlow) -> None:
    with pytest.raises(ValidationError, match="result must be one of rows, row, value, none"):
        users.sql("SELECT 1", result="many")


def test_sqlnode_runs_inside_the_runs_transaction_and_rolls_back_with_it(users: DataFlow) -> None:
    t = table(users)
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreateNode", "ann", {"name": "Ann", "email": "ann@x"})
    workflow.add_node("SQLNode", "raise", {"query": f"UPDATE {t} SET age = 50 WHERE email = :e", "result": "none"})
    workflow.add_node(
        "SQLNode", "seen", {"query": f"SELECT age FROM {t} WHERE email = :e AND :n = 1", "result": "value"}
    )
    workflow.add_node("UserCreateNode", "dup", {"name": "Ann 2", "email": "ann@x"})
    workflow.add_connection("ann", "email", "raise", "params.e")
    workflow.add_connection("ann", "email", "seen", "params.e")
    workflow.add_connection("raise", "rowcount", "seen", "params.n")
    workflow.add_connection("seen", "value", "dup", "age")
    with pytest.raises(WorkflowError) as info:
        LocalRuntime().execute(workflow.build(), transaction=True)
    assert info.value.node_id == "dup" and info.value.results["seen"] == {"value": 50}
    assert count(users, "User") == 0


def test_sqlnode_outputs_rows_and_count_and_feeds_connections(users: DataFlow) -> None:
    seeded(users)
    workflow = WorkflowBuilder()
    workflow.add_node("SQLNode", "oldest", {"query": f"SELECT id, name FROM {table(users)} ORDER BY age DESC"})
    workflow.add_node("UserReadNode", "read", {})
    workflow.add_connection("oldest", "rows.0.id", "read", "id")
    results, _ = LocalRuntime().execute(workflow.build())
    assert results["oldest"]["count"] == 3 and results["read"]["name"] == "Cid"


def test_monitors_see_raw_sql_as_a_statement_without_values(users: DataFlow) -> None:
    seen: list[StatementExecuted] = []

    class Recorder:
        def handle(self, event: Any) -> None:
            if isinstance(event, StatementExecuted):
                seen.append(event)

    users.monitors.append(Recorder())
    try:
        users.sql(f"SELECT name FROM {table(users)} WHERE email = :e", {"e": "secret@example.com"})
    finally:
        users.monitors.pop()
    raw = [event for event in seen if event.operation == "sql"]
    assert len(raw) == 1 and "secret@example.com" not in raw[0].sql


def test_with_several_instances_sqlnode_needs_its_database(users: DataFlow, dataflow_database_url: str) -> None:
    other = open_db(dataflow_database_url)
    try:
        workflow = WorkflowBuilder()
        workflow.add_node("SQLNode", "q", {"query": "SELECT 1 AS one"})
        with pytest.raises(WorkflowBuildError, match="give SQLNode a 'database'"):
            workflow.build()
        bound = WorkflowBuilder()
        bound.add_node("SQLNode", "q", {"query": "SELECT 1 AS one", "database": users})
        results, _ = LocalRuntime().execute(bound.build())
        assert [{k: int(v) for k, v in row.items()} for row in results["q"]["rows"]] == [{"one": 1}]
    finally:
        other.close()


def test_sql_in_a_transaction_of_the_direct_api(users: DataFlow) -> None:
    async def main() -> None:
        async with users.transaction() as tx:
            await tx.create("User", {"name": "Ann", "email": "ann@x"})
            assert await tx.sql(f"SELECT COUNT(*) FROM {table(users)}", result="value") == 1
            raise LookupError("undo")

    with pytest.raises(LookupError):
        asyncio.run(main())
    assert count(users, "User") == 0
