"""Transaction scopes: savepoints inside a run's transaction, isolation and read-only scopes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from txn_helpers import accounts, create_account, open_accounts, run, server_database

from dataflow import DataFlow, LocalRuntime, TransactionError, WorkflowBuilder, WorkflowBuildError, WorkflowError
from dataflow.nodes.base import Node
from dataflow.session import Session
from dataflow_txn import add_transaction_scope, transaction_scope


def failing_inner(db: DataFlow) -> WorkflowBuilder:
    """Creates "b", then a second "a", which the unique name refuses."""
    inner = create_account(db, "b", 2, "b")
    inner.add_node(db.nodes["AccountCreateNode"], "dup", {"name": "a"})
    inner.add_connection("b", "balance", "dup", "balance")
    return inner


def around_scope(db: DataFlow, scope: type[Node]) -> WorkflowBuilder:
    """a, then the scope, then c (named after the failed node): c runs only when the scope reports a failure."""
    workflow = create_account(db, "a", 1, "a")
    workflow.add_node(scope, "scope", {})
    workflow.add_node(db.nodes["AccountCreateNode"], "c", {"balance": 3})
    workflow.add_connection("a", "id", "scope", "parameters.b.balance")
    workflow.add_connection("scope", "failed_node", "c", "name", when="ok == false")
    return workflow


def test_a_failure_inside_a_scope_rolls_back_to_its_savepoint_and_the_run_continues(any_url: str) -> None:
    db = open_accounts(any_url)
    try:
        scope = transaction_scope(db, failing_inner(db))
        results, _ = LocalRuntime().execute(around_scope(db, scope), transaction=True)
        assert results["scope"]["ok"] is False
        assert results["scope"]["failed_node"] == "dup"
        assert results["scope"]["error_type"] == "UniqueViolationError"
        assert results["scope"]["results"]["b"]["name"] == "b"
        assert run(accounts(db)) == {"a": 1, "dup": 3}  # b was undone with its scope; a and c committed
    finally:
        db.close()


def test_a_scope_that_succeeds_keeps_its_work_in_the_run(any_url: str) -> None:
    db = open_accounts(any_url)
    try:
        workflow = WorkflowBuilder()
        add_transaction_scope(workflow, "scope", db, create_account(db, "b", 2, "b"))
        results, _ = LocalRuntime().execute(workflow, transaction=True)
        assert results["scope"] == {"ok": True, "results": {"b": results["scope"]["results"]["b"]}}
        assert run(accounts(db)) == {"b": 2}
    finally:
        db.close()


def test_on_error_raise_fails_the_whole_run(any_url: str) -> None:
    db = open_accounts(any_url)
    try:
        scope = transaction_scope(db, failing_inner(db), on_error="raise")
        with pytest.raises(WorkflowError, match="node 'scope'"):
            LocalRuntime().execute(around_scope(db, scope), transaction=True)
        assert run(accounts(db)) == {}
    finally:
        db.close()


def test_outside_a_transaction_a_scope_begins_its_own(any_url: str) -> None:
    db = open_accounts(any_url)
    try:
        scope = transaction_scope(db, failing_inner(db))
        results, _ = LocalRuntime().execute(around_scope(db, scope))
        assert results["scope"]["ok"] is False
        assert run(accounts(db)) == {"a": 1, "dup": 3}
    finally:
        db.close()


def isolation_probe(db: DataFlow) -> type[Node]:
    class Isolation(Node):
        type_name: ClassVar[str] = "Isolation"
        database: ClassVar[DataFlow | None] = db

        async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
            assert session is not None
            variable = "current_setting('transaction_isolation')"
            if db.dialect.name == "mysql":
                variable = "@@tx_isolation"  # MariaDB; the next transaction's level shows in the session
            rows = await session.fetch(f"SELECT {variable}")
            return {"level": str(rows[0][0]).lower().replace("-", " "), "in_transaction": session.in_transaction}

    return Isolation


def test_a_scope_that_begins_the_transaction_chooses_its_isolation(pg_url: str) -> None:
    db = open_accounts(pg_url)
    try:
        inner = WorkflowBuilder()
        inner.add_node(isolation_probe(db), "probe")
        workflow = WorkflowBuilder()
        add_transaction_scope(workflow, "scope", db, inner, isolation="serializable")
        results, _ = LocalRuntime().execute(workflow)
        assert results["scope"]["results"]["probe"] == {"level": "serializable", "in_transaction": True}
    finally:
        db.close()


def test_isolation_cannot_change_inside_the_runs_transaction(any_url: str) -> None:
    db = open_accounts(any_url)
    try:
        workflow = WorkflowBuilder()
        add_transaction_scope(workflow, "scope", db, create_account(db, "b"), isolation="serializable")
        with pytest.raises(WorkflowError) as caught:
            LocalRuntime().execute(workflow, transaction=True)
        assert isinstance(caught.value.cause, TransactionError)
        assert "set by the scope that begins the transaction" in caught.value.message
    finally:
        db.close()


def test_an_unknown_isolation_level_is_refused_at_build_time(sqlite_url: str) -> None:
    db = open_accounts(sqlite_url)
    try:
        with pytest.raises(WorkflowBuildError, match="isolation 'snapshot'"):
            transaction_scope(db, create_account(db, "b"), isolation="snapshot")
    finally:
        db.close()


def reads_then_writes(db: DataFlow) -> WorkflowBuilder:
    inner = WorkflowBuilder()
    inner.add_node(db.nodes["AccountCountNode"], "count", {})
    inner.add_node(db.nodes["AccountCreateNode"], "write", {"name": "x"})
    inner.add_connection("count", "count", "write", "balance")
    return inner


@pytest.fixture(params=("sqlite", "postgres"))
def savepoint_read_only_url(request: Any, tmp_path: Path) -> Iterator[str]:
    """The backends that can make part of a transaction read-only."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ro.db'}"
        return
    yield from server_database(request.param, request, tmp_path)


def test_a_read_only_scope_refuses_writes(any_url: str) -> None:
    check_read_only_scope(any_url, transactional=False)


def test_a_read_only_scope_inside_a_transaction_refuses_writes(savepoint_read_only_url: str) -> None:
    check_read_only_scope(savepoint_read_only_url, transactional=True)


def check_read_only_scope(url: str, *, transactional: bool) -> None:
    db = open_accounts(url)
    try:
        workflow = create_account(db, "a", 1, "a")
        workflow.add_node(transaction_scope(db, reads_then_writes(db), read_only=True), "scope", {})
        workflow.add_node(db.nodes["AccountCreateNode"], "after", {"balance": 1})
        workflow.add_connection("a", "id", "scope", "parameters.count.filter.id")
        workflow.add_connection("scope", "failed_node", "after", "name")
        results, _ = LocalRuntime().execute(workflow, transaction=transactional)
        scope = results["scope"]
        assert scope["ok"] is False and scope["failed_node"] == "write"
        assert scope["results"]["count"] == {"count": 1}
        assert run(accounts(db)) == {"a": 1, "write": 1}  # writing after the scope works again
    finally:
        db.close()


def test_a_read_only_scope_inside_a_mysql_transaction_is_refused(mysql_url: str) -> None:
    db = open_accounts(mysql_url)
    try:
        workflow = WorkflowBuilder()
        workflow.add_node(transaction_scope(db, reads_then_writes(db), read_only=True), "scope", {})
        with pytest.raises(WorkflowError, match="cannot make part of a transaction read-only"):
            LocalRuntime().execute(workflow, transaction=True)
    finally:
        db.close()


def test_a_scope_refuses_nodes_of_another_database(sqlite_url: str, tmp_path: Any) -> None:
    db, other = open_accounts(sqlite_url), open_accounts(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        with pytest.raises(WorkflowBuildError, match="not this part's database"):
            transaction_scope(db, create_account(other, "b"))
    finally:
        db.close()
        other.close()
