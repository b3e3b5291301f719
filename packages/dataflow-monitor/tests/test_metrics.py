"""Metrics from events: statements, latencies, rows, errors, nodes, transactions, pools; one registry per instance."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import prometheus_client
import pytest
from monitor_helpers import define_item, monitor, one_node, run, samples

from dataflow import DataFlow, WorkflowBuilder, WorkflowError
from dataflow.events import StatementExecuted
from dataflow.testing.servers import fresh_database
from dataflow_monitor.families import MAX_LABEL_SETS


def test_statements_are_counted_by_model_and_operation_with_latency_and_rows(any_database_url: str) -> None:
    async def body() -> None:
        db = DataFlow(any_database_url)
        define_item(db)
        try:
            created = await run(one_node(db.nodes["ItemCreateNode"], {"name": "a", "qty": 1}))
            await run(one_node(db.nodes["ItemReadNode"], {"id": created["n"]["id"]}))
            await run(one_node(db.nodes["ItemBulkCreateNode"], {"data": [{"name": f"b{i}"} for i in range(5)]}))
            await run(one_node(db.nodes["ItemBulkDeleteNode"], {"filter": {"name": {"$like": "b%"}}}))
        finally:
            await db.close_async()
        counts = samples(db, "dataflow_statements_total")
        assert counts[(("model", "Item"), ("operation", "create"))] >= 1
        assert counts[(("model", "Item"), ("operation", "read"))] >= 1
        assert counts[(("model", "Item"), ("operation", "bulk_create"))] >= 1
        latency = samples(db, "dataflow_statement_duration_seconds_count")
        assert latency[(("model", "Item"), ("operation", "read"))] == counts[(("model", "Item"), ("operation", "read"))]
        assert samples(db, "dataflow_statement_duration_seconds_sum")[(("model", "Item"), ("operation", "read"))] > 0
        rows = samples(db, "dataflow_rows_total")
        written = (("direction", "written"), ("model", "Item"), ("operation", "bulk_delete"))
        assert rows[written] == 5

    asyncio.run(body())


def test_errors_are_counted_by_kind(any_database_url: str) -> None:
    async def body() -> None:
        db = DataFlow(any_database_url)
        define_item(db, unique=[("name",)])
        try:
            await run(one_node(db.nodes["ItemCreateNode"], {"name": "same"}))
            with pytest.raises(WorkflowError):
                await run(one_node(db.nodes["ItemCreateNode"], {"name": "same"}))
        finally:
            await db.close_async()
        errors = samples(db, "dataflow_statement_errors_total")
        assert errors[(("error", "UniqueViolationError"), ("model", "Item"), ("operation", "create"))] == 1
        nodes = samples(db, "dataflow_node_errors_total")
        assert nodes[(("error", "UniqueViolationError"), ("node_type", "ItemCreateNode"))] == 1

    asyncio.run(body())


@pytest.fixture
def postgres_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database("postgres", request, tmp_path)


def test_a_copy_aborted_by_a_bad_row_mid_stream_is_a_failed_statement(postgres_database_url: str) -> None:
    # COPY streams rows as they are validated: the bad row is found after the statement began.
    async def body() -> None:
        db = DataFlow(postgres_database_url)
        define_item(db)
        data: list[dict[str, object]] = [{"name": f"n{i}", "qty": i} for i in range(12_000)]
        data[11_000] = {"name": "bad", "qty": "many"}
        try:
            with pytest.raises(WorkflowError):
                await run(one_node(db.nodes["ItemBulkCreateNode"], {"data": data}))
        finally:
            await db.close_async()
        errors = samples(db, "dataflow_statement_errors_total")
        assert errors[(("error", "ValidationError"), ("model", "Item"), ("operation", "bulk_create"))] == 1

    asyncio.run(body())


def test_node_durations_and_transaction_outcomes_are_measured(any_database_url: str) -> None:
    async def body() -> None:
        db = DataFlow(any_database_url)
        define_item(db)
        try:
            # The first session checks the schema, in a transaction of its own on some databases.
            await run(one_node(db.nodes["ItemCountNode"], {}))
            before = samples(db, "dataflow_transactions_total")
            await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}), transaction=True)
            failing = WorkflowBuilder()
            failing.add_node(db.nodes["ItemCreateNode"], "ok", {"name": "b"})
            failing.add_node(db.nodes["ItemReadNode"], "missing", {"id": 999_999})
            failing.add_connection("ok", "name", "missing", "raise_on_not_found")
            with pytest.raises(WorkflowError):
                await run(failing, transaction=True)
        finally:
            await db.close_async()
        nodes = samples(db, "dataflow_node_duration_seconds_count")
        assert nodes[(("node_type", "ItemCreateNode"),)] == 2
        assert nodes[(("node_type", "ItemReadNode"),)] == 1
        after = samples(db, "dataflow_transactions_total")
        for outcome in ("commit", "rollback"):
            key = (("outcome", outcome),)
            assert after[key] - before.get(key, 0) == 1
        durations = samples(db, "dataflow_transaction_duration_seconds_count")
        assert durations[(("outcome", "commit"),)] >= 1

    asyncio.run(body())


def test_pool_gauges_are_read_at_scrape_time(any_database_url: str) -> None:
    async def body() -> None:
        db = DataFlow(any_database_url)
        define_item(db)
        try:
            assert samples(db, "dataflow_pool_size") == {}  # no pool before the first run
            await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
            size = samples(db, "dataflow_pool_size")[()]
            assert size >= 1
            assert samples(db, "dataflow_pool_idle")[()] == size
            assert samples(db, "dataflow_pool_in_use")[()] == 0
            assert samples(db, "dataflow_pool_waiting")[()] == 0
        finally:
            await db.close_async()

    asyncio.run(body())


def test_two_instances_keep_separate_numbers_and_leave_the_global_registry_alone(tmp_path: object) -> None:
    async def body() -> None:
        first, second = DataFlow(f"sqlite:///{tmp_path}/a.db"), DataFlow(f"sqlite:///{tmp_path}/b.db")
        define_item(first)
        define_item(second)
        try:
            for _ in range(3):
                await run(one_node(first.nodes["ItemCreateNode"], {"name": "a"}))
            await run(one_node(second.nodes["ItemCreateNode"], {"name": "b"}))
        finally:
            await first.close_async()
            await second.close_async()
        key = (("model", "Item"), ("operation", "create"))
        assert samples(first, "dataflow_statements_total")[key] == 3
        assert samples(second, "dataflow_statements_total")[key] == 1
        assert monitor(first).metrics.registry is not monitor(second).metrics.registry
        assert b"dataflow_" not in prometheus_client.generate_latest(prometheus_client.REGISTRY)

    asyncio.run(body())


def test_label_sets_are_bounded(tmp_path: object) -> None:
    db = DataFlow(f"sqlite:///{tmp_path}/bounded.db")
    try:
        for index in range(MAX_LABEL_SETS + 20):
            monitor(db).handle(StatementExecuted(db.label, "SELECT 1", 0.001, 1, f"Model{index}", "read", "run"))
    finally:
        db.close()
    counts = samples(db, "dataflow_statements_total")
    assert len(counts) <= MAX_LABEL_SETS + 1
    assert counts[(("model", "other"), ("operation", "other"))] == 20


def test_workflow_durations_are_measured_by_outcome(tmp_path: object) -> None:
    async def body() -> DataFlow:
        db = DataFlow(f"sqlite:///{tmp_path}/runs.db")
        define_item(db)
        try:
            await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
            with pytest.raises(WorkflowError):
                await run(one_node(db.nodes["ItemReadNode"], {"id": 404}))
        finally:
            await db.close_async()
        return db

    db = asyncio.run(body())
    counts = samples(db, "dataflow_workflow_duration_seconds_count")
    assert counts == {(("outcome", "ok"),): 1, (("outcome", "error"),): 1}


def test_pool_acquire_waits_are_measured(any_database_url: str) -> None:
    async def body() -> DataFlow:
        db = DataFlow(any_database_url)
        define_item(db)
        try:
            for _ in range(3):
                await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
        finally:
            await db.close_async()
        return db

    db = asyncio.run(body())
    assert samples(db, "dataflow_pool_acquire_wait_seconds_count")[()] == 3


def test_rows_read_are_counted(any_database_url: str) -> None:
    async def body() -> DataFlow:
        db = DataFlow(any_database_url)
        define_item(db)
        try:
            await run(one_node(db.nodes["ItemBulkCreateNode"], {"data": [{"name": f"r{i}"} for i in range(4)]}))
            await run(one_node(db.nodes["ItemListNode"], {"filter": {}}))
        finally:
            await db.close_async()
        return db

    db = asyncio.run(body())
    assert samples(db, "dataflow_rows_total")[(("direction", "read"), ("model", "Item"), ("operation", "list"))] == 4
