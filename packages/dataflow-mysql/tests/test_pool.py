"""Pools: one per event loop, bounded waits, and no connection left behind, checked on the server."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
from mysql_helpers import admin_connection, database_url, open_db, server_connections

from dataflow import (
    AsyncLocalRuntime,
    ConfigError,
    ConnectionError,
    DataFlow,
    LocalRuntime,
    PoolTimeoutError,
    WorkflowBuilder,
)
from dataflow.testing.helpers import define_people, failure, people, run_node
from dataflow_mysql.pool import MySQLPool


def settle(database: str, expected: int, timeout: float = 5.0) -> int:
    """Server-side connection count once it reaches ``expected`` (the server reaps closed sessions quickly)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = server_connections(database)
        if seen == expected or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


@pytest.fixture
def db(database_name: str) -> Iterator[DataFlow]:
    instance = open_db(database_url(database_name, pool_size="3", pool_timeout="0.3"))
    define_people(instance)
    yield instance
    instance.close()


def read_workflow(db: DataFlow, key: int) -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["UserReadNode"], "read", {"id": key, "raise_on_not_found": False})
    return workflow


def test_acquire_times_out_with_a_pool_timeout_error(db: DataFlow) -> None:
    async def main() -> float:
        held = [await db.open_session() for _ in range(3)]
        started = time.monotonic()
        try:
            with pytest.raises(PoolTimeoutError, match="pool size 3"):
                await db.open_session()
            return time.monotonic() - started
        finally:
            for session in held:
                await db.close_session(session)
            assert (await db.pool()).state() == {"size": 3, "in_use": 0, "idle": 3, "waiting": 0}
            await db.close_async()

    assert 0.25 < asyncio.run(main()) < 2


def test_no_connection_leaks_over_a_thousand_runs(db: DataFlow, database_name: str) -> None:
    ids = run_node(db, "UserBulkCreateNode", {"data": people(10), "return_ids": True})["ids"]
    runtime = LocalRuntime()
    for i in range(600):
        results, _ = runtime.execute(read_workflow(db, ids[i % 10] if i % 5 else 10**9))
        assert (results["read"] is None) == (i % 5 == 0)
    for _ in range(100):
        failure(db, "UserCreateNode", {"name": "dup", "email": "user1@example.com"})

    async def concurrent() -> None:
        async_runtime = AsyncLocalRuntime()
        for _ in range(10):
            await asyncio.gather(*(async_runtime.execute_async(read_workflow(db, key)) for key in ids * 3))

    asyncio.run(concurrent())
    # The thread's own loop keeps one connection (its runs were sequential); the finished asyncio.run loop
    # left a pool of 3 that nothing can use any more: it ends when this dialect makes its next pool, or at close.
    assert settle(database_name, 4) <= 4
    asyncio.run(concurrent())
    assert settle(database_name, 4) <= 4
    db.close()
    assert settle(database_name, 0) == 0


def test_each_event_loop_gets_its_own_pool_and_connections(db: DataFlow, database_name: str) -> None:
    async def connection_and_pool() -> tuple[int, MySQLPool]:
        session = await db.open_session()
        [(thread_id,)] = await session.fetch("SELECT CONNECTION_ID()")
        await db.close_session(session)
        pool = await db.pool()
        assert isinstance(pool, MySQLPool)
        return int(thread_id), pool

    first_id, first_pool = asyncio.run(connection_and_pool())
    second_id, second_pool = asyncio.run(connection_and_pool())
    assert first_pool is not second_pool and first_id != second_id

    async def borrow_from_the_other_loop() -> None:
        with pytest.raises(ConnectionError, match="another event loop"):
            await second_pool.acquire()

    asyncio.run(borrow_from_the_other_loop())
    db.close()
    assert settle(database_name, 0) == 0


def test_pools_of_finished_event_loops_do_not_pile_up(db: DataFlow, database_name: str) -> None:
    async def one_read() -> None:
        await AsyncLocalRuntime().execute_async(read_workflow(db, 1))

    for _ in range(30):
        asyncio.run(one_read())
    assert settle(database_name, 1) <= 1
    db.close()
    assert settle(database_name, 0) == 0


def test_close_from_another_thread_ends_every_connection(db: DataFlow, database_name: str) -> None:
    ready, stop = threading.Event(), threading.Event()

    def worker() -> None:
        async def hold() -> None:
            sessions = [await db.open_session() for _ in range(3)]
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.01)
            for session in sessions:
                with contextlib.suppress(ConfigError):  # the DataFlow was closed under them
                    await db.close_session(session)

        asyncio.run(hold())

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert ready.wait(10)
        assert settle(database_name, 3) == 3
        db.close()
        assert settle(database_name, 0) == 0
    finally:
        stop.set()
        thread.join(10)


def test_a_connection_the_server_closed_while_idle_is_replaced(db: DataFlow) -> None:
    async def main() -> None:
        session = await db.open_session()
        [(thread_id,)] = await session.fetch("SELECT CONNECTION_ID()")
        await db.close_session(session)
        admin = admin_connection()
        admin.cursor().execute(f"KILL {int(thread_id)}")
        admin.close()
        await asyncio.sleep(0.1)
        again = await db.open_session()
        assert await again.fetch("SELECT 1") == [(1,)]
        await db.close_session(again)
        await db.close_async()

    asyncio.run(main())
