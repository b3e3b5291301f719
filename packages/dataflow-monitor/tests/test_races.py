"""Race detection: versioned models (optimistic locking) and possible lost updates on the others."""

from __future__ import annotations

import asyncio

import pytest
from monitor_helpers import Gate, define_item, monitor, one_node, run, samples

from dataflow import DataFlow, WorkflowBuilder, WorkflowError
from dataflow.errors import ConcurrentUpdateError, ConfigError
from dataflow_monitor.lostupdates import LostUpdateDetector


def test_a_versioned_model_gets_a_version_column_starting_at_1(any_database_url: str) -> None:
    async def body() -> None:
        db = DataFlow(any_database_url)
        define_item(db, versioned=True)
        try:
            created = await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
            await run(one_node(db.nodes["ItemBulkCreateNode"], {"data": [{"name": "b"}, {"name": "c"}]}))
            listed = await run(one_node(db.nodes["ItemListNode"], {"order_by": ["name"]}))
        finally:
            await db.close_async()
        assert created["n"]["version"] == 1
        assert [r["version"] for r in listed["n"]["records"]] == [1, 1, 1]

    asyncio.run(body())


def test_unversioned_models_are_left_alone(tmp_path: object) -> None:
    db = DataFlow(f"sqlite:///{tmp_path}/plain.db")
    try:
        define_item(db)
        assert "version" not in db.schemas["Item"].by_name
    finally:
        db.close()


def test_a_declared_version_field_must_be_a_non_null_int(tmp_path: object) -> None:
    db = DataFlow(f"sqlite:///{tmp_path}/declared.db")
    try:

        @db.model
        class Good:
            version: int
            __dataflow__ = {"versioned": True}

        assert db.schemas["Good"].by_name["version"].default == 1
        with pytest.raises(ConfigError, match="non-null int"):

            @db.model
            class Bad:
                version: str
                __dataflow__ = {"versioned": True}

        del Good
    finally:
        db.close()


def _read_then_update(
    db: DataFlow, key: int, name: str, barrier: asyncio.Barrier, *, versioned: bool = True
) -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["ItemReadNode"], "read", {"id": key})
    workflow.add_node(Gate, "gate", {"barrier": barrier, "next_id": key})
    workflow.add_node(db.nodes["ItemUpdateNode"], "update", {"fields": {"name": name}})
    workflow.add_connection("gate", "id", "update", "id")
    if versioned:
        workflow.add_connection("read", "version", "gate", "version")
        workflow.add_connection("gate", "version", "update", "fields.version")
    else:
        workflow.add_connection("read", "id", "gate", "after")
    return workflow


def test_a_stale_write_on_a_versioned_model_raises_concurrent_update_error(server_database_url: str) -> None:
    async def body() -> DataFlow:
        db = DataFlow(server_database_url)
        define_item(db, versioned=True)
        try:
            key = (await run(one_node(db.nodes["ItemCreateNode"], {"name": "start"})))["n"]["id"]
            barrier = asyncio.Barrier(2)
            outcomes = await asyncio.gather(
                run(_read_then_update(db, key, "first", barrier)),
                run(_read_then_update(db, key, "second", barrier)),
                return_exceptions=True,
            )
            final = (await run(one_node(db.nodes["ItemReadNode"], {"id": key})))["n"]
        finally:
            await db.close_async()
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(failures) == 1, outcomes
        assert isinstance(failures[0], WorkflowError) and isinstance(failures[0].cause, ConcurrentUpdateError)
        assert final["version"] == 2
        return db

    db = asyncio.run(body())
    assert samples(db, "dataflow_concurrent_update_conflicts_total") == {(("node_type", "ItemUpdateNode"),): 1}


def test_the_detector_reports_a_write_over_another_runs_write_since_the_read() -> None:
    detector = LostUpdateDetector("db", window=5.0)
    detector.read("A", "Item", 1, now=0.0)
    detector.read("B", "Item", 1, now=0.1)
    assert detector.write("B", "Item", 1, now=0.2) is None
    found = detector.write("A", "Item", 1, now=0.3)
    assert found is not None and (found.run_id, found.other_run_id, found.key) == ("A", "B", 1)


def test_the_detector_stays_quiet_for_a_fresh_read_another_row_or_an_old_read() -> None:
    detector = LostUpdateDetector("db", window=1.0)
    detector.read("A", "Item", 1, now=0.0)
    detector.write("B", "Item", 1, now=0.1)
    detector.read("A", "Item", 1, now=0.2)  # read again after B's write: A saw it
    assert detector.write("A", "Item", 1, now=0.3) is None
    detector.read("A", "Item", 2, now=0.4)
    detector.write("B", "Item", 3, now=0.5)
    assert detector.write("A", "Item", 2, now=0.6) is None
    detector.read("C", "Item", 4, now=1.0)
    detector.write("B", "Item", 4, now=1.1)
    assert detector.write("C", "Item", 4, now=5.0) is None  # outside the window


def test_two_runs_reading_then_updating_the_same_row_are_reported(server_database_url: str) -> None:
    async def body() -> DataFlow:
        db = DataFlow(server_database_url)
        define_item(db)
        try:
            key = (await run(one_node(db.nodes["ItemCreateNode"], {"name": "start"})))["n"]["id"]
            barrier = asyncio.Barrier(2)
            await asyncio.gather(
                run(_read_then_update(db, key, "first", barrier, versioned=False)),
                run(_read_then_update(db, key, "second", barrier, versioned=False)),
            )
        finally:
            await db.close_async()
        return db

    db = asyncio.run(body())
    (found,) = monitor(db).lost_updates.entries
    assert found.model == "Item" and found.key is not None
    assert samples(db, "dataflow_possible_lost_updates_total") == {(("model", "Item"),): 1}
