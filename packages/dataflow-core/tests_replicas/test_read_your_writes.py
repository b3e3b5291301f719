"""A read right after a write sees it, with replication delayed on purpose, for the run and its caller."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from replica_helpers import table, write_behind_dataflows_back
from replica_sql import wait_until

from dataflow import AsyncLocalRuntime, DataFlow, LocalRuntime, WorkflowBuilder
from dataflow.routing import PRIMARY_ONLY, UNREAD, caller_context
from dataflow.testing.helpers import define_people, run_node

DELAY = 10


def open_delayed(replicated: tuple[str, str, Any], **options: Any) -> DataFlow:
    primary, replica, pair = replicated
    db = DataFlow(primary, env="test", replicas=[replica], max_replica_lag=60, **options)
    define_people(db)
    with caller_context():
        run_node(db, "UserCreateNode", {"name": "Seed", "email": "seed@x"})

    def caught_up() -> bool:
        with caller_context():
            try:
                return bool(run_node(db, "UserCountNode", {}, replica=True)["count"] == 1)
            except Exception:  # noqa: BLE001 - the table is not replicated yet
                return False

    wait_until(caught_up)
    pair.delay(DELAY)
    return db


def test_a_read_in_the_run_that_wrote_sees_the_write(replicated: tuple[str, str, Any]) -> None:
    db = open_delayed(replicated)
    try:
        with caller_context():
            workflow = WorkflowBuilder()
            workflow.add_node(db.nodes["UserCreateNode"], "create", {"name": "Ann", "email": "ann@x"})
            workflow.add_node(db.nodes["UserReadNode"], "read", {})
            workflow.add_connection("create", "id", "read", "id")
            results, _ = LocalRuntime().execute(workflow.build())
        assert results["read"]["email"] == "ann@x"
    finally:
        db.close()


def test_reads_of_the_same_caller_after_a_write_never_miss_it_under_load(replicated: tuple[str, str, Any]) -> None:
    db = open_delayed(replicated)

    async def client(number: int) -> list[int]:
        counts = []
        with caller_context():
            for i in range(10):
                user = await db.express.create("User", {"name": "U", "email": f"{number}.{i}@x"})
                read = await db.express.read("User", user["id"], raise_on_not_found=False)
                assert read is not None and read["id"] == user["id"]
                counts.append((await db.express.count("User", filter={"email": {"$like": f"{number}.%"}}))["count"])
        return counts

    async def main() -> list[list[int]]:
        try:
            return await asyncio.gather(*(client(n) for n in range(4)))
        finally:
            await db.close_async()

    assert asyncio.run(main()) == [list(range(1, 11))] * 4


def test_another_caller_reads_the_replica_and_the_window_ends(replicated: tuple[str, str, Any]) -> None:
    db = open_delayed(replicated, read_your_writes_window=1)
    try:
        with caller_context():
            db.express_sync.create("User", {"name": "Ann", "email": "ann@x"})
            assert db.express_sync.count("User")["count"] == 2  # the writer's window: primary
            with caller_context():
                assert db.express_sync.count("User")["count"] == 1  # another caller: the delayed replica
            time.sleep(1.2)
            assert db.express_sync.count("User")["count"] == 1  # the window is over
    finally:
        db.close()


def test_a_replica_that_replayed_past_the_write_serves_the_writer(replicated: tuple[str, str, Any]) -> None:
    pair = replicated[2]
    db = open_delayed(replicated)
    try:
        with caller_context():
            db.express_sync.create("User", {"name": "Ann", "email": "ann@x"})
            pair.delay(0)
            with caller_context():
                wait_until(lambda: db.express_sync.count("User", replica=True)["count"] == 2)
            pair.delay(DELAY)
            assert db.express_sync.count("User")["count"] == 2  # on the primary, which then tells its position
            write_behind_dataflows_back(
                db, pair, f"INSERT INTO {table(db, 'User')} (name, email, age, active) VALUES ('B', 'b@x', 1, true)"
            )
            # The replica has Ann (the writer's position) but not B: the writer's read may use it.
            assert db.express_sync.count("User")["count"] == 2
    finally:
        db.close()


def test_a_writes_position_is_read_by_the_callers_next_read_not_by_the_write(replicated: tuple[str, str, Any]) -> None:
    db = open_delayed(replicated)
    assert db.replicas is not None
    try:
        with caller_context() as marks:
            db.express_sync.create("User", {"name": "Ann", "email": "ann@x"})
            unread = (marks.unread(db.replicas), marks.needs(db.replicas))
            assert db.express_sync.count("User")["count"] == 2  # the primary: the replica lags 10 s
            position = marks.needs(db.replicas)
        assert unread == (True, PRIMARY_ONLY)  # a writer that reads nothing more costs no round trip
        assert position not in (None, PRIMARY_ONLY, UNREAD) and not marks.unread(db.replicas)
    finally:
        db.close()


def test_a_write_in_a_transaction_block_or_raw_sql_pins_the_callers_reads(replicated: tuple[str, str, Any]) -> None:
    db = open_delayed(replicated)

    async def main() -> tuple[int, int]:
        try:
            with caller_context():
                async with db.transaction() as tx:
                    await tx.create("User", {"name": "Ann", "email": "ann@x"})
                first = (await db.express.count("User"))["count"]
            with caller_context():
                await db.express.sql(f"INSERT INTO {table(db, 'User')} (name, email, age, active) "
                                     "VALUES ('B', 'b@x', 1, true)")  # fmt: skip
                workflow = WorkflowBuilder()
                workflow.add_node(db.nodes["UserCountNode"], "count", {})
                results, _ = await AsyncLocalRuntime().execute_async(workflow.build())
            return first, results["count"]["count"]
        finally:
            await db.close_async()

    assert asyncio.run(main()) == (2, 3)
