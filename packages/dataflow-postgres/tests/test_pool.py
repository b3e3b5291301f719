"""The pool: one per event loop, bounded waits, nothing left open on the server."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from pg_testing import run_node, server_connections, wait_for_connections

import dataflow_postgres.pool
from dataflow import AsyncLocalRuntime, DataFlow, PoolTimeoutError, WorkflowBuilder
from dataflow.dialect import Pool
from dataflow.errors import ConnectionError
from dataflow.loops import run_sync
from dataflow.nodes.base import Node
from dataflow.session import Session


def define(db: DataFlow) -> None:
    @db.model
    class Item:
        name: str


async def backend_pid(db: DataFlow) -> int:
    session = await db.open_session()
    try:
        rows = await session.fetch("SELECT pg_backend_pid()")
    finally:
        await db.close_session(session)
    return int(rows[0][0])


def test_acquire_times_out_with_pool_timeout_error(dataflow_database_url: str) -> None:
    async def main() -> BaseException:
        db = DataFlow(dataflow_database_url, pool_size=1, pool_timeout=0.2)
        try:
            held = await db.open_session()
            try:
                await asyncio.wait_for(db.open_session(), timeout=10)
            except Exception as exc:  # noqa: BLE001
                return exc
            finally:
                await db.close_session(held)
            raise AssertionError("a second connection was handed out")
        finally:
            await db.close_async()

    error = asyncio.run(main())
    assert isinstance(error, PoolTimeoutError) and "pool size 1" in str(error)


def test_a_waiting_run_gets_the_connection_when_it_is_released(dataflow_database_url: str) -> None:
    async def main() -> int:
        db = DataFlow(dataflow_database_url, pool_size=1)
        try:
            held = await db.open_session()
            waiter = asyncio.ensure_future(backend_pid(db))
            await asyncio.sleep(0.05)
            assert not waiter.done() and (await db.pool()).state()["waiting"] == 1
            await db.close_session(held)
            return await asyncio.wait_for(waiter, timeout=10)
        finally:
            await db.close_async()

    assert asyncio.run(main()) > 0


def test_separate_event_loops_never_share_connections(dataflow_database_url: str) -> None:
    db = DataFlow(dataflow_database_url)
    first = asyncio.run(backend_pid(db))
    second = asyncio.run(backend_pid(db))

    async def from_sync_facade() -> int:
        return await backend_pid(db)

    third = run_sync(from_sync_facade)
    assert len({first, second, third}) == 3
    # The pools of the two finished asyncio.run loops were terminated when the third was made.
    assert len(db.pools()) == 1
    assert wait_for_connections(dataflow_database_url, 1) == 1
    db.close()
    assert wait_for_connections(dataflow_database_url, 0) == 0


def test_a_pool_refuses_another_event_loop(dataflow_database_url: str) -> None:
    db = DataFlow(dataflow_database_url)

    async def make() -> Pool:
        return await db.dialect.create_pool()

    pool = asyncio.run(make())

    async def use() -> BaseException:
        try:
            await pool.acquire()
        except ConnectionError as exc:
            return exc
        raise AssertionError("a connection crossed event loops")

    assert "another event loop" in str(asyncio.run(use()))
    pool.terminate()
    db.close()
    assert wait_for_connections(dataflow_database_url, 0) == 0


def test_no_connection_leaks_over_a_thousand_runs(dataflow_database_url: str) -> None:
    db = DataFlow(dataflow_database_url, pool_size=4)
    define(db)
    key = run_node(db, "ItemCreateNode", {"name": "x"})["id"]
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["ItemReadNode"], "read", {"id": key})
    workflow.add_node(db.nodes["ItemCountNode"], "count", {})
    built = workflow.build()
    runtime = AsyncLocalRuntime()

    async def runs(count: int, *, transaction: bool) -> None:
        async def one() -> None:
            results, _ = await runtime.execute_async(built, transaction=transaction)
            assert results["read"]["name"] == "x"

        for _ in range(count // 10):
            await asyncio.gather(*(one() for _ in range(10)))

    asyncio.run(runs(500, transaction=False))
    asyncio.run(runs(500, transaction=True))
    # The two finished loops' pools are still open (until close); each is bounded by pool_size.
    assert server_connections(dataflow_database_url) <= 2 * 4 + 1
    db.close()
    assert wait_for_connections(dataflow_database_url, 0) == 0


def test_sync_runs_reuse_one_pool(dataflow_database_url: str) -> None:
    db = DataFlow(dataflow_database_url, pool_size=3)
    define(db)
    for i in range(200):
        run_node(db, "ItemCreateNode", {"name": str(i)})
    assert server_connections(dataflow_database_url) == 1
    db.close()
    assert wait_for_connections(dataflow_database_url, 0) == 0


def test_close_async_closes_every_pool(dataflow_database_url: str) -> None:
    db = DataFlow(dataflow_database_url)
    define(db)
    run_node(db, "ItemCountNode")  # the thread's loop
    asyncio.run(backend_pid(db))  # a loop that has finished

    async def main() -> None:
        await asyncio.gather(*(backend_pid(db) for _ in range(3)))
        await db.close_async()

    asyncio.run(main())
    assert wait_for_connections(dataflow_database_url, 0) == 0
    with pytest.raises(Exception, match="closed"):
        asyncio.run(backend_pid(db))


def test_a_connection_released_inside_a_transaction_is_rolled_back(dataflow_database_url: str) -> None:
    async def main() -> tuple[int, bool]:
        db = DataFlow(dataflow_database_url, pool_size=1)
        define(db)
        try:
            await db.create_tables_async()
            pool = await db.pool()
            connection = await pool.acquire()
            await connection.begin()
            await connection.execute('INSERT INTO "item" ("name") VALUES ($1)', ["lost"])
            await pool.release(connection)
            again = await pool.acquire()
            try:
                rows = await again.fetch('SELECT count(*) FROM "item"')
                return int(rows[0][0]), again.in_transaction
            finally:
                await pool.release(again)
        finally:
            await db.close_async()

    assert asyncio.run(main()) == (0, False)


def test_pool_state_counts_connections(dataflow_database_url: str) -> None:
    async def main() -> list[dict[str, int]]:
        db = DataFlow(dataflow_database_url, pool_size=3)
        try:
            pool = await db.pool()
            states = [dict(pool.state())]
            first, second = await pool.acquire(), await pool.acquire()
            states.append(dict(pool.state()))
            await pool.release(first)
            await pool.release(second, discard=True)
            states.append(dict(pool.state()))
            return states
        finally:
            await db.close_async()

    assert asyncio.run(main()) == [
        {"size": 1, "in_use": 0, "idle": 1, "waiting": 0},
        {"size": 2, "in_use": 2, "idle": 0, "waiting": 0},
        {"size": 1, "in_use": 0, "idle": 1, "waiting": 0},
    ]


def test_a_connection_idle_too_long_is_replaced(dataflow_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> tuple[int, int, int]:
        db = DataFlow(dataflow_database_url, pool_size=1)
        try:
            first = await backend_pid(db)
            again = await backend_pid(db)
            monkeypatch.setattr(dataflow_postgres.pool, "IDLE_LIFETIME", 0.0)
            replaced = await backend_pid(db)
            return first, again, replaced
        finally:
            await db.close_async()

    first, again, replaced = asyncio.run(main())
    assert first == again and replaced != first
    assert wait_for_connections(dataflow_database_url, 0) == 0


def test_a_cancelled_run_gives_its_connection_back_usable(dataflow_database_url: str) -> None:
    db = DataFlow(dataflow_database_url, pool_size=1)

    class Sleep(Node):
        type_name: ClassVar[str] = "Sleep"
        database: ClassVar[DataFlow | None] = db

        async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
            assert session is not None
            await session.fetch("SELECT pg_sleep(10)")
            return {}

    async def main() -> int:
        workflow = WorkflowBuilder()
        workflow.add_node(Sleep, "sleep", {})
        run = asyncio.ensure_future(AsyncLocalRuntime().execute_async(workflow.build(), transaction=True))
        await asyncio.sleep(0.3)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        try:
            return await asyncio.wait_for(backend_pid(db), timeout=10)
        finally:
            await db.close_async()

    assert asyncio.run(main()) > 0
    assert wait_for_connections(dataflow_database_url, 0) == 0
