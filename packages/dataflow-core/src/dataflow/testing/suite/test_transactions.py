"""Workflow transactions: one failed node rolls back every write of the run."""

from __future__ import annotations

import asyncio

import pytest

from ...database import DataFlow
from ...errors import DataFlowError, NotFoundError, WorkflowError
from ...workflow import LocalRuntime, WorkflowBuilder
from ..helpers import count, define_people, open_db, people, run_node


def failing_workflow(db: DataFlow) -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["UserCreateNode"], "create", {"name": "Ann", "email": "ann@x"})
    workflow.add_node(db.nodes["UserBulkCreateNode"], "bulk", {"data": people(500)})
    workflow.add_node(
        db.nodes["UserBulkUpsertNode"], "upsert", {"data": people(10, start=495), "conflict_on": ["email"]}
    )
    workflow.add_node(db.nodes["UserUpdateNode"], "update", {"filter": {}, "fields": {"age": 1}, "confirmed": True})
    workflow.add_node(db.nodes["UserReadNode"], "missing", {"id": 10**9})
    workflow.add_connection("create", "id", "bulk", "batch_size")
    workflow.add_connection("bulk", "inserted", "upsert", "batch_size")
    workflow.add_connection("upsert", "inserted", "update", "fields.score")
    workflow.add_connection("update", "updated", "missing", "raise_on_not_found")
    return workflow


def test_a_failed_node_rolls_back_the_whole_transaction(users: DataFlow) -> None:
    with pytest.raises(WorkflowError) as info:
        LocalRuntime().execute(failing_workflow(users).build(), transaction=True)
    assert info.value.node_id == "missing"
    assert isinstance(info.value.cause, NotFoundError)
    assert set(info.value.results) == {"create", "bulk", "upsert", "update"}
    assert count(users, "User") == 0


def test_without_a_transaction_finished_nodes_keep_their_writes(users: DataFlow) -> None:
    with pytest.raises(WorkflowError):
        LocalRuntime().execute(failing_workflow(users).build())
    assert count(users, "User") == 506


@pytest.mark.parametrize("isolation", ["read committed", "repeatable read", "serializable"])
def test_isolation_levels(users: DataFlow, isolation: str) -> None:
    if isolation not in users.dialect.capabilities.isolation_levels:
        pytest.skip(f"{users.dialect.name} does not offer {isolation}")
    result = run_node(users, "UserBulkCreateNode", {"data": people(5)}, transaction=True, isolation=isolation)
    assert result == {"inserted": 5}
    assert count(users, "User") == 5


def test_unknown_isolation_level_is_refused_before_any_write(users: DataFlow) -> None:
    with pytest.raises(WorkflowError):
        run_node(users, "UserBulkCreateNode", {"data": people(5)}, isolation="chaos")
    assert count(users, "User") == 0


def test_committed_transaction_keeps_every_write(users: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(users.nodes["UserBulkCreateNode"], "bulk", {"data": people(50)})
    workflow.add_node(users.nodes["UserCreateNode"], "one", {"name": "x", "email": "x@x"})
    results, run_id = LocalRuntime().execute(workflow.build(), transaction=True)
    assert results["bulk"] == {"inserted": 50} and run_id
    assert count(users, "User") == 51


def test_concurrent_first_nodes_all_join_the_run_transaction(users: DataFlow) -> None:
    # Several nodes start at once and race to open the run's connection: every one of
    # them must write inside the transaction, so one failure rolls back them all.
    workflow = WorkflowBuilder()
    for i in range(4):
        workflow.add_node(users.nodes["UserBulkCreateNode"], f"bulk{i}", {"data": people(20, start=i * 20)})
        workflow.add_node(users.nodes["UserCreateNode"], f"one{i}", {"name": "x", "email": f"one{i}@x"})
    workflow.add_node(users.nodes["UserReadNode"], "missing", {"id": 10**9})
    with pytest.raises(WorkflowError) as info:
        LocalRuntime().execute(workflow.build(), transaction=True)
    assert info.value.node_id == "missing"
    assert count(users, "User") == 0


@pytest.mark.parametrize("monitored", [True, False], ids=["monitored", "unmonitored"])
def test_a_transaction_setup_opens_every_transaction_and_each_statement_outside_one(
    dataflow_database_url: str, monitored: bool
) -> None:
    """``Session.transaction_setup`` (tenancy's per-transaction settings behind PgBouncer): here an INSERT, counted.

    Unmonitored, a session's statements take its direct path to the connection: the setup must not be skipped there.
    """

    async def main() -> list[object]:
        db = open_db(dataflow_database_url)
        if not monitored:
            db.monitors.clear()
        define_people(db)
        try:
            await db.create_tables_async()
            quote, placeholder = db.dialect.quote, db.dialect.placeholder
            team = quote(db.schema("Team").table)
            counting = f"SELECT count(*) FROM {team}"
            session = await db.open_session()
            try:
                session.transaction_setup = (f"INSERT INTO {team} ({quote('name')}) VALUES ({placeholder(1)})", ["s"])
                seen: list[object] = [(await session.fetch(counting))[0][0], session.in_transaction]
                seen.append((await session.fetch(counting))[0][0])
                async with session.atomic():  # one transaction: the setup once
                    seen += [(await session.fetch(counting))[0][0], (await session.fetch(counting))[0][0]]
                with pytest.raises(DataFlowError):
                    await session.fetch(f"SELECT {team}.{quote('nope')} FROM {team}")  # rolled back with its setup
                seen.append((await session.fetch(counting))[0][0])
            finally:
                await db.close_session(session)
            return seen
        finally:
            await db.close_async()

    assert asyncio.run(main()) == [1, False, 2, 3, 3, 4]
