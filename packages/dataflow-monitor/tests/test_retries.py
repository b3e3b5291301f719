"""Retries of transactional runs (dataflow-txn), counted from a real deadlock on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from monitor_helpers import define_item, monitor, run, samples
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dataflow import DataFlow, WorkflowBuilder
from dataflow.nodes.base import Node
from dataflow.session import Session
from dataflow.testing.servers import fresh_database
from dataflow_monitor.cli import render
from dataflow_monitor.exporters import registry_for

dataflow_txn = pytest.importorskip("dataflow_txn")


@pytest.fixture
def postgres_url(request: Any, tmp_path: Path) -> Iterator[str]:
    """An empty PostgreSQL schema."""
    yield from fresh_database("postgres", request, tmp_path)


class Rendezvous:
    """Holds the first two arrivals until both have come; later arrivals (the retry) pass at once."""

    def __init__(self) -> None:
        self.arrived = 0
        self.event = asyncio.Event()

    def node(self) -> type[Node]:
        rendezvous = self

        class Meet(Node):
            type_name: ClassVar[str] = "Meet"
            repeatable = True

            async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
                if rendezvous.arrived < 2:
                    rendezvous.arrived += 1
                    if rendezvous.arrived == 2:
                        rendezvous.event.set()
                    await asyncio.wait_for(rendezvous.event.wait(), 30)
                return {"id": inputs["next_id"]}

        return Meet


def crossing_updates(db: DataFlow, first: int, second: int, meet: type[Node]) -> WorkflowBuilder:
    """Update row ``first``, wait for the other run, then update row ``second``: two such runs deadlock."""
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["ItemUpdateNode"], "first", {"id": first, "fields": {"qty": 1}})
    workflow.add_node(meet, "meet", {"next_id": second})
    workflow.add_node(db.nodes["ItemUpdateNode"], "second", {"fields": {"qty": 2}})
    workflow.add_connection("first", "id", "meet", "after")
    workflow.add_connection("meet", "id", "second", "id")
    return workflow


def _prometheus(db: DataFlow, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples called ``name`` in the Prometheus text of ``db``, by labels (without ``database``)."""
    text = generate_latest(registry_for(db)).decode()
    return {
        tuple(sorted((k, v) for k, v in sample.labels.items() if k != "database")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_a_real_deadlock_retried_by_dataflow_txn_is_counted(postgres_url: str) -> None:
    async def body() -> DataFlow:
        db = DataFlow(postgres_url)
        define_item(db)
        try:
            rows = WorkflowBuilder()
            rows.add_node(db.nodes["ItemBulkCreateNode"], "rows", {"data": [{"name": "a"}, {"name": "b"}],
                                                                   "return_ids": True})  # fmt: skip
            a, b = (await run(rows))["rows"]["ids"]
            meet = Rendezvous().node()
            policy = dataflow_txn.RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05)
            runtime = dataflow_txn.RetryingRuntime(policy)
            await asyncio.gather(
                runtime.execute_async(crossing_updates(db, a, b, meet)),
                runtime.execute_async(crossing_updates(db, b, a, meet)),
            )  # both commit: the one the database aborted ran again
        finally:
            await db.close_async()
        return db

    db = asyncio.run(body())
    retries = _prometheus(db, "dataflow_transaction_retries_total")
    assert retries.get((("error", "DeadlockError"),), 0) > 0, retries
    assert samples(db, "dataflow_transaction_retries_total") == retries
    assert monitor(db).deadlocks.count >= 1

    snapshot = monitor(db).snapshot()
    counted = snapshot["transaction_retries"]
    assert counted["count"] == sum(retries.values()) and counted["by_error"]["DeadlockError"] >= 1
    (first, *_) = counted["recent"]
    assert first["attempt"] == 1 and first["error"] == "DeadlockError" and first["databases"] == [db.label]
    assert f"retries {counted['count']}" in render({"databases": [snapshot]})


def test_a_retry_event_is_matched_by_name_and_attributes_without_importing_dataflow_txn(tmp_path: Path) -> None:
    class TransactionRetried:  # not dataflow_txn's class: the same name and attributes
        def __init__(self, attempt: int) -> None:
            self.run_id, self.attempt, self.delay, self.databases = None, attempt, 0.1, ()
            self.error = "SerializationError"

    class Unrelated:
        error = "x"

    db = DataFlow(f"sqlite:///{tmp_path}/names.db")
    try:
        for event in (TransactionRetried(1), Unrelated(), TransactionRetried(2)):
            monitor(db).handle(event)
        assert samples(db, "dataflow_transaction_retries_total") == {(("error", "SerializationError"),): 2.0}
        assert [r["attempt"] for r in monitor(db).snapshot()["transaction_retries"]["recent"]] == [1, 2]
    finally:
        db.close()
