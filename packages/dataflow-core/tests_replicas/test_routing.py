"""Reads outside transactions go to a replica; writes, transactions and SQL that may write go to the primary.

Replication is delayed on purpose, and rows are written behind DataFlow's
back: a read that misses them ran on the replica, one that sees them ran on
the primary.
"""

from __future__ import annotations

from typing import Any

import pytest
from replica_helpers import table, write_behind_dataflows_back
from replica_sql import wait_until

from dataflow import DataFlow, LocalRuntime, WorkflowBuilder
from dataflow.errors import ValidationError, WorkflowBuildError, WorkflowError
from dataflow.events import StatementExecuted
from dataflow.routing import caller_context
from dataflow.testing.helpers import define_people, run_node

DELAY = 10


def open_replicated(replicated: tuple[str, str, Any], **options: Any) -> DataFlow:
    primary, replica, _ = replicated
    options.setdefault("max_replica_lag", 60)
    db = DataFlow(primary, env="test", replicas=[replica], **options)
    define_people(db)
    return db


def seed_and_delay(db: DataFlow, pair: Any) -> None:
    """One user, replicated; then replication delayed and a second user written behind DataFlow's back."""
    with caller_context():
        run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@x"})
    pair.delay(0)
    _wait_replicated(db, 1)
    pair.delay(DELAY)
    write_behind_dataflows_back(
        db, pair, f"INSERT INTO {table(db, 'User')} (name, email, age, active) VALUES ('Bob', 'bob@x', 1, true)"
    )


def _wait_replicated(db: DataFlow, expected: int) -> None:
    def replicated() -> bool:
        with caller_context():
            try:
                return bool(run_node(db, "UserCountNode", {}, replica=True)["count"] == expected)
            except WorkflowError:  # the table itself is not replicated yet
                return False

    wait_until(replicated)


def fresh_count(db: DataFlow, **options: Any) -> int:
    with caller_context():
        return int(run_node(db, "UserCountNode", {**options})["count"])


def test_a_read_outside_a_transaction_runs_on_the_replica(replicated: tuple[str, str, Any]) -> None:
    db = open_replicated(replicated)
    try:
        seed_and_delay(db, replicated[2])
        assert fresh_count(db) == 1  # the replica has not applied Bob yet
        with caller_context():
            assert run_node(db, "UserListNode", {})["count"] == 1
            assert db.express_sync.count("User")["count"] == 1
    finally:
        db.close()


def test_replica_false_on_a_node_or_a_run_reads_the_primary(replicated: tuple[str, str, Any]) -> None:
    db = open_replicated(replicated)
    try:
        seed_and_delay(db, replicated[2])
        assert fresh_count(db, replica=False) == 2
        with caller_context():
            assert run_node(db, "UserCountNode", {}, replica=False)["count"] == 2
            assert db.express_sync.count("User", replica=False)["count"] == 2
    finally:
        db.close()


def test_every_node_of_a_transaction_run_runs_on_the_primary(replicated: tuple[str, str, Any]) -> None:
    db = open_replicated(replicated)
    try:
        seed_and_delay(db, replicated[2])
        with caller_context():
            assert run_node(db, "UserCountNode", {}, transaction=True)["count"] == 2
    finally:
        db.close()


def test_sql_node_runs_on_the_primary_unless_marked_read_only(replicated: tuple[str, str, Any]) -> None:
    db = open_replicated(replicated)
    try:
        seed_and_delay(db, replicated[2])
        query = f"SELECT COUNT(*) AS n FROM {table(db, 'User')}"
        for read_only, expected in ((False, 2), (True, 1)):
            with caller_context():
                workflow = WorkflowBuilder()
                workflow.add_node("SQLNode", "q", {"query": query, "result": "value", "read_only": read_only})
                results, _ = LocalRuntime().execute(workflow.build())
                assert results["q"]["value"] == expected
    finally:
        db.close()


def test_replica_true_on_a_run_that_writes_fails_before_anything_runs(replicated: tuple[str, str, Any]) -> None:
    db = open_replicated(replicated)
    try:
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["UserCountNode"], "before", {})
        workflow.add_node(db.nodes["UserCreateNode"], "create", {"name": "Cy", "email": "cy@x"})
        with pytest.raises(WorkflowBuildError, match=r"'create'.*writes"):
            LocalRuntime().execute(workflow.build(), replica=True)
        with pytest.raises(WorkflowBuildError, match="transaction"):
            LocalRuntime().execute(workflow.build(), replica=True, transaction=True)
        assert fresh_count(db, replica=False) == 0
    finally:
        db.close()


def test_replica_true_on_a_writing_node_names_the_input(replicated: tuple[str, str, Any]) -> None:
    db = open_replicated(replicated)
    try:
        with pytest.raises(WorkflowError) as info:
            run_node(db, "UserCreateNode", {"name": "Cy", "email": "cy@x", "replica": True})
        assert isinstance(info.value.cause, ValidationError)
        assert info.value.cause.field == "replica"
        with pytest.raises(ValidationError, match="replica must be true or false"):
            db.express_sync.count("User", replica="yes")
        assert fresh_count(db, replica=False) == 0
    finally:
        db.close()


def test_monitors_see_replica_statements_under_the_replicas_name(replicated: tuple[str, str, Any]) -> None:
    db = open_replicated(replicated)
    seen: list[str] = []

    class Recorder:
        def handle(self, event: object) -> None:
            if isinstance(event, StatementExecuted) and event.operation == "count":
                seen.append(event.database)

    try:
        db.monitors.append(Recorder())
        seed_and_delay(db, replicated[2])
        fresh_count(db)
        fresh_count(db, replica=False)
        assert db.replicas is not None
        assert seen[-2:] == [db.replicas.replicas[0].label, db.label]
    finally:
        db.close()
