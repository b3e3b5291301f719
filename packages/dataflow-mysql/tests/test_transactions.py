"""Runs in one transaction on MySQL: bulk writes roll back too, and each run gets its isolation level."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from mysql_helpers import admin_connection, database_url, open_db, without_returning

from dataflow import DataFlow, LocalRuntime, NotFoundError, WorkflowBuilder, WorkflowError
from dataflow.nodes.base import Node
from dataflow.session import Session
from dataflow.testing.helpers import count, define_people, people, records, run_node


@pytest.fixture
def db(database_name: str) -> Iterator[DataFlow]:
    instance = open_db(database_url(database_name, local_infile="true"))
    define_people(instance)
    yield instance
    instance.close()


def test_a_failed_node_rolls_back_every_bulk_strategy(db: DataFlow) -> None:
    run_node(db, "UserBulkCreateNode", {"data": people(10)})
    before = records(db, "User")
    steps: list[tuple[str, dict[str, Any], str, str]] = [
        # node, parameters, and which output feeds which input of the next node (so that they run in order)
        ("UserBulkCreateNode", {"data": people(200, start=100), "strategy": "mysql_values"}, "inserted", "batch_size"),
        ("UserBulkCreateNode", {"data": people(200, start=400), "strategy": "load_data"}, "inserted", "batch_size"),
        (
            "UserBulkUpsertNode",
            {"data": [{**p, "age": 99} for p in people(20, start=5)], "conflict_on": ["email"]},
            "inserted",
            "batch_size",
        ),
        ("UserBulkUpdateNode", {"data": [{"id": 1, "name": "renamed"}, {"id": 2, "age": 3}]}, "updated", "batch_size"),
        ("UserBulkDeleteNode", {"ids": [3, 4]}, "deleted", "fields.score"),
        ("UserUpdateNode", {"id": 5, "fields": {"name": "five"}}, "id", "raise_on_not_found"),
        ("UserReadNode", {"id": 10**9}, "", ""),
    ]
    workflow = WorkflowBuilder()
    for index, (node, params, output, target_input) in enumerate(steps):
        workflow.add_node(db.nodes[node], f"n{index}", params)
        if output:
            workflow.add_connection(f"n{index}", output, f"n{index + 1}", target_input)
    with pytest.raises(WorkflowError) as info:
        LocalRuntime().execute(workflow.build(), transaction=True)
    assert isinstance(info.value.cause, NotFoundError) and info.value.node_id == f"n{len(steps) - 1}"
    assert len(info.value.results) == len(steps) - 1
    assert records(db, "User") == before


def test_the_no_returning_path_rolls_back_too(db: DataFlow) -> None:
    without_returning(db)
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["UserCreateNode"], "create", {"name": "a", "email": "a@x"})
    workflow.add_node(db.nodes["UserReadNode"], "read", {})
    workflow.add_connection("create", "id", "read", "id")
    workflow.add_node(db.nodes["UserReadNode"], "missing", {"id": 10**9})
    workflow.add_connection("read", "id", "missing", "raise_on_not_found")
    with pytest.raises(WorkflowError):
        LocalRuntime().execute(workflow.build(), transaction=True)
    assert count(db, "User") == 0


def isolation_probe(db: DataFlow, database: str) -> type[Node]:
    class IsolationProbe(Node):
        """Counts teams, has another connection add one, counts again: what the run saw tells its isolation."""

        type_name = "IsolationProbe"
        database = db

        async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
            assert session is not None
            [(before,)] = await session.fetch("SELECT COUNT(*) FROM `team`")
            other = admin_connection(database)
            try:
                cursor = other.cursor()
                cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
                try:
                    cursor.execute("INSERT INTO `team` (`name`) VALUES ('other')")
                    blocked = False
                except pymysql.err.OperationalError:
                    blocked = True
            finally:
                other.close()
            [(after,)] = await session.fetch("SELECT COUNT(*) FROM `team`")
            return {"sees_new_rows": after > before, "blocks_writers": blocked}

    return IsolationProbe


@pytest.mark.parametrize(
    ("isolation", "sees_new_rows", "blocks_writers"),
    [
        ("read committed", True, False),
        ("repeatable read", False, False),
        ("serializable", False, True),
    ],
)
def test_each_run_gets_its_isolation_level(
    db: DataFlow, database_name: str, isolation: str, sees_new_rows: bool, blocks_writers: bool
) -> None:
    run_node(db, "TeamCreateNode", {"name": "first"})
    workflow = WorkflowBuilder()
    workflow.add_node(isolation_probe(db, database_name), "probe", {})
    results, _ = LocalRuntime().execute(workflow.build(), isolation=isolation)
    assert results["probe"] == {"sees_new_rows": sees_new_rows, "blocks_writers": blocks_writers}
    # The level was for that run only: the next one has the server's default (repeatable read).
    results, _ = LocalRuntime().execute(workflow.build(), transaction=True)
    assert results["probe"] == {"sees_new_rows": False, "blocks_writers": False}
