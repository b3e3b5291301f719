"""Workflow transactions on PostgreSQL: isolation per run, COPY rolled back with the rest."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from pg_testing import fetch

from dataflow import AsyncLocalRuntime, DataFlow, LocalRuntime, NotFoundError, TransactionError, WorkflowError
from dataflow.errors import DataFlowError
from dataflow.nodes.base import Node
from dataflow.session import Session
from dataflow.workflow import WorkflowBuilder


@pytest.fixture
def db(dataflow_database_url: str) -> Iterator[DataFlow]:
    instance = DataFlow(dataflow_database_url)

    @instance.model
    class Item:
        sku: str
        qty: int = 0
        __dataflow__ = {"unique": [("sku",)]}

    yield instance
    instance.close()


def probe(db: DataFlow) -> type[Node]:
    """A node that reports its transaction's isolation level."""

    class TransactionProbe(Node):
        type_name: ClassVar[str] = "TransactionProbe"
        database: ClassVar[DataFlow | None] = db

        async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
            assert session is not None
            rows = await session.fetch("SELECT current_setting('transaction_isolation')")
            return {"isolation": rows[0][0], "in_transaction": session.in_transaction}

    return TransactionProbe


def isolation_of(db: DataFlow, **options: Any) -> dict[str, Any]:
    workflow = WorkflowBuilder()
    workflow.add_node(probe(db), "probe", {})
    results, _ = LocalRuntime().execute(workflow.build(), **options)
    return dict(results["probe"])


@pytest.mark.parametrize("isolation", ["read committed", "repeatable read", "serializable"])
def test_isolation_level_per_run(db: DataFlow, isolation: str) -> None:
    assert isolation_of(db, transaction=True, isolation=isolation) == {"isolation": isolation, "in_transaction": True}


def test_isolation_level_per_async_run(db: DataFlow) -> None:
    async def main() -> dict[str, Any]:
        workflow = WorkflowBuilder()
        workflow.add_node(probe(db), "probe", {})
        try:
            results, _ = await AsyncLocalRuntime().execute_async(workflow.build(), isolation="serializable")
        finally:
            await db.close_async()
        return dict(results["probe"])

    assert asyncio.run(main()) == {"isolation": "serializable", "in_transaction": True}


def test_runs_without_a_transaction_use_the_server_default(db: DataFlow) -> None:
    assert isolation_of(db) == {"isolation": "read committed", "in_transaction": False}


def test_a_failed_node_rolls_back_copy_and_merge(db: DataFlow) -> None:
    workflow = WorkflowBuilder()
    data = [{"sku": f"s{i}", "qty": i} for i in range(2000)]
    workflow.add_node(db.nodes["ItemBulkCreateNode"], "copy", {"data": data, "strategy": "copy"})
    workflow.add_node(
        db.nodes["ItemBulkUpsertNode"],
        "merge",
        {
            "data": [{"sku": "s1", "qty": 100}, {"sku": "new", "qty": 1}],
            "conflict_on": ["sku"],
            "strategy": "copy_merge",
        },
    )
    workflow.add_node(db.nodes["ItemReadNode"], "missing", {"id": 10**9})
    workflow.add_connection("copy", "inserted", "merge", "batch_size")
    workflow.add_connection("merge", "inserted", "missing", "raise_on_not_found")
    with pytest.raises(WorkflowError) as info:
        LocalRuntime().execute(workflow.build(), transaction=True)
    assert isinstance(info.value.cause, NotFoundError)
    assert info.value.results["copy"] == {"inserted": 2000}
    assert info.value.results["merge"] == {"inserted": 1, "updated": 1}
    assert fetch(db.label, 'SELECT count(*) FROM "item"')[0][0] == 0


def test_a_failed_bulk_node_inside_a_transaction_keeps_nothing(db: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["ItemCreateNode"], "one", {"sku": "first"})
    workflow.add_node(
        db.nodes["ItemBulkCreateNode"], "bulk", {"data": [{"sku": "a"}, {"sku": "first"}], "strategy": "copy"}
    )
    workflow.add_connection("one", "id", "bulk", "batch_size")
    with pytest.raises(WorkflowError):
        LocalRuntime().execute(workflow.build(), transaction=True)
    assert fetch(db.label, 'SELECT count(*) FROM "item"')[0][0] == 0


@pytest.mark.parametrize("node", ["ItemBulkCreateNode", "ItemBulkUpsertNode"])
def test_a_bad_row_found_mid_copy_inside_a_transaction_keeps_nothing(db: DataFlow, node: str) -> None:
    # COPY streams rows as they are validated: rows before the bad one have reached the server.
    data: list[dict[str, Any]] = [{"sku": f"s{i}", "qty": i} for i in range(30_000)]
    data[20_000] = {"sku": "bad", "qty": "many"}
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["ItemCreateNode"], "one", {"sku": "first"})
    params: dict[str, Any] = {"data": data} if node == "ItemBulkCreateNode" else {"data": data, "conflict_on": ["sku"]}
    workflow.add_node(db.nodes[node], "bulk", params)
    workflow.add_connection("one", "id", "bulk", "batch_size")
    with pytest.raises(WorkflowError) as info:
        LocalRuntime().execute(workflow.build(), transaction=True)
    assert isinstance(info.value.cause, DataFlowError)
    assert "data[20000]" in str(info.value.cause) and info.value.cause.field == "qty"
    assert fetch(db.label, 'SELECT count(*) FROM "item"')[0][0] == 0
    # The connection that carried the aborted COPY serves the next run at once.
    data[20_000] = {"sku": "good", "qty": 1}
    results, _ = LocalRuntime().execute(workflow.build(), transaction=True)
    assert results["bulk"]["inserted"] == 30_000
    assert fetch(db.label, 'SELECT count(*) FROM "item"')[0][0] == 30_001


def test_commit_of_an_aborted_transaction_is_an_error(db: DataFlow) -> None:
    async def main() -> BaseException:
        await db.create_tables_async()
        session = await db.open_session()
        try:
            await session.begin()
            await session.execute('INSERT INTO "item" ("sku", "qty") VALUES (\'a\', 1)')
            with pytest.raises(Exception):  # noqa: B017 - any error aborts the transaction
                await session.execute("SELECT 1/0")
            try:
                await session.commit()
            except Exception as exc:  # noqa: BLE001
                return exc
            raise AssertionError("COMMIT of an aborted transaction succeeded")
        finally:
            await db.close_session(session)
            await db.close_async()

    assert isinstance(asyncio.run(main()), TransactionError)
    assert fetch(db.label, 'SELECT count(*) FROM "item"')[0][0] == 0


def test_independent_root_nodes_all_run_inside_the_transaction(db: DataFlow) -> None:
    """Root nodes start concurrently while the run's BEGIN may still be on the wire."""

    def workflow(tag: str, fail: bool) -> WorkflowBuilder:
        builder = WorkflowBuilder()
        builder.add_node(db.nodes["ItemCreateNode"], "one", {"sku": f"{tag}-one"})
        builder.add_node(db.nodes["ItemBulkCreateNode"], "bulk", {"data": [{"sku": f"{tag}-bulk"}], "strategy": "copy"})
        builder.add_node(db.nodes["ItemCountNode"], "count", {})
        if fail:
            builder.add_node(db.nodes["ItemReadNode"], "missing", {"id": 10**9})
        return builder

    async def main() -> list[BaseException | None]:
        runtime = AsyncLocalRuntime()
        outcomes: list[BaseException | None] = []
        try:
            for batch in range(10):
                runs = [
                    runtime.execute_async(workflow(f"{batch}-{i}", i % 2 == 1), transaction=True) for i in range(10)
                ]
                for outcome in await asyncio.gather(*runs, return_exceptions=True):
                    outcomes.append(outcome if isinstance(outcome, BaseException) else None)
        finally:
            await db.close_async()
        return outcomes

    outcomes = asyncio.run(main())
    failures = [o for o in outcomes if o is not None]
    assert len(failures) == 50
    assert all(isinstance(o, WorkflowError) and isinstance(o.cause, NotFoundError) for o in failures)
    skus = {row[0] for row in fetch(db.label, 'SELECT sku FROM "item"')}
    assert skus == {f"{b}-{i}-{kind}" for b in range(10) for i in range(0, 10, 2) for kind in ("one", "bulk")}
