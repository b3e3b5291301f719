"""Slow statements: thresholds (default and per model), logged with SQL only, plans on a separate connection."""

from __future__ import annotations

import asyncio
import logging

import pytest
from monitor_helpers import define_item, monitor, one_node, run, samples

from dataflow import DataFlow, LocalRuntime


def _define_two(db: DataFlow) -> None:
    define_item(db)

    @db.model
    class Note:
        text: str

    del Note


def test_statements_over_the_threshold_are_logged_with_sql_and_no_values(
    any_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> DataFlow:
        db = DataFlow(any_database_url)
        define_item(db)
        monitor(db).configure(slow_query_seconds=0.0)
        try:
            await run(one_node(db.nodes["ItemCreateNode"], {"name": "secret-value", "qty": 4242}))
        finally:
            await db.close_async()
        return db

    db = asyncio.run(body())
    slow = [r for r in caplog.records if r.name == "dataflow.monitor.slow"]
    inserts = [r for r in slow if "INSERT INTO" in r.getMessage()]
    assert inserts, [r.getMessage() for r in slow]
    assert all("secret-value" not in r.getMessage() and "4242" not in r.getMessage() for r in slow)
    entries = list(monitor(db).slow.entries)
    assert any(e.model == "Item" and e.operation == "create" for e in entries)
    assert samples(db, "dataflow_slow_statements_total")[(("model", "Item"), ("operation", "create"))] >= 1


def test_a_model_threshold_overrides_the_default(tmp_path: object) -> None:
    async def body() -> DataFlow:
        db = DataFlow(f"sqlite:///{tmp_path}/thresholds.db")
        _define_two(db)
        monitor(db).configure(slow_query_seconds=60.0, slow_query_seconds_by_model={"Note": 0.0})
        try:
            await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
            await run(one_node(db.nodes["NoteCreateNode"], {"text": "b"}))
        finally:
            await db.close_async()
        return db

    db = asyncio.run(body())
    models = {entry.model for entry in monitor(db).slow.entries}
    assert models == {"Note"}


def test_statements_under_the_threshold_are_not_logged(tmp_path: object, caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> DataFlow:
        db = DataFlow(f"sqlite:///{tmp_path}/fast.db")
        define_item(db)
        try:
            await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
        finally:
            await db.close_async()
        return db

    db = asyncio.run(body())
    assert not monitor(db).slow.entries
    assert not [r for r in caplog.records if r.name == "dataflow.monitor.slow"]


def test_plans_of_slow_statements_are_captured_on_a_separate_connection(any_database_url: str) -> None:
    async def body() -> DataFlow:
        db = DataFlow(any_database_url)
        define_item(db, indexes=[("name",)])
        monitor(db).configure(slow_query_seconds=0.0, explain=True)
        try:
            created = await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
            await run(one_node(db.nodes["ItemReadNode"], {"id": created["n"]["id"]}))
            await run(one_node(db.nodes["ItemListNode"], {"filter": {"name": "a"}, "limit": 5, "offset": 0}))
            await monitor(db).settle()
        finally:
            await db.close_async()
        return db

    db = asyncio.run(body())
    entries = list(monitor(db).slow.entries)
    reads = [e for e in entries if e.operation == "read" and e.sql.startswith("SELECT")]
    lists = [e for e in entries if e.operation == "list" and e.sql.startswith("SELECT")]
    assert reads and lists
    for entry in reads + lists:
        assert entry.plan_error is None, entry.plan_error
        assert entry.plan
    plan = reads[0].plan or ""
    expected = {"postgresql": "Index Scan", "mysql": "const", "sqlite": "PRIMARY KEY"}[db.dialect.name]
    assert expected in plan, plan
    begins = [e for e in entries if e.sql.startswith("BEGIN")]
    assert all(e.plan is None for e in begins)  # nothing to explain there


def test_a_plan_that_cannot_be_made_never_fails_the_workflow(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dataflow.monitor")

    async def body() -> DataFlow:
        db = DataFlow(f"sqlite:///{tmp_path}/noplan.db")
        define_item(db)
        monitor(db).configure(slow_query_seconds=0.0, explain=True, explain_timeout=0.0)
        try:
            result = await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
            await monitor(db).settle()
        finally:
            await db.close_async()
        assert result["n"]["name"] == "a"
        return db

    db = asyncio.run(body())
    inserts = [e for e in monitor(db).slow.entries if e.sql.startswith("INSERT")]
    assert inserts and all(e.plan is None and e.plan_error for e in inserts)


def _explained_local_runtime_db(url: str) -> DataFlow:
    db = DataFlow(url)
    define_item(db, indexes=[("name",)])
    monitor(db).configure(slow_query_seconds=0.0, explain=True)
    return db


def _read_plans(db: DataFlow) -> list[str | None]:
    return [e.plan for e in monitor(db).slow.entries if e.operation == "read" and e.sql.startswith("SELECT")]


def test_settle_waits_for_plans_of_statements_run_through_the_synchronous_local_runtime(any_database_url: str) -> None:
    db = _explained_local_runtime_db(any_database_url)
    try:
        results, _ = LocalRuntime().execute(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
        LocalRuntime().execute(one_node(db.nodes["ItemReadNode"], {"id": results["n"]["id"]}))
        asyncio.run(monitor(db).settle())
        plans = _read_plans(db)
        assert plans and all(plans), [e.as_dict() for e in monitor(db).slow.entries]
    finally:
        db.close()


def test_settle_waits_for_plans_of_local_runtime_runs_inside_a_running_loop(any_database_url: str) -> None:
    db = _explained_local_runtime_db(any_database_url)

    async def body() -> list[str | None]:
        results, _ = LocalRuntime().execute(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
        LocalRuntime().execute(one_node(db.nodes["ItemReadNode"], {"id": results["n"]["id"]}))
        await monitor(db).settle()
        try:
            return _read_plans(db)
        finally:
            await db.close_async()

    plans = asyncio.run(body())
    assert plans and all(plans), [e.as_dict() for e in monitor(db).slow.entries]
