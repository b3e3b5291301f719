"""One pool, many concurrent runs; one run, concurrent branches."""

from __future__ import annotations

import asyncio

from ...database import DataFlow
from ...workflow import AsyncLocalRuntime, LocalRuntime, WorkflowBuilder
from ..helpers import count, define_people, open_db, people


def test_many_concurrent_runs_share_one_small_pool(dataflow_database_url: str) -> None:
    async def main() -> list[int]:
        db = open_db(dataflow_database_url, pool_size=3)
        try:
            define_people(db)
            await db.create_tables_async()
            runtime = AsyncLocalRuntime()

            async def one(i: int) -> int:
                workflow = WorkflowBuilder()
                workflow.add_node(db.nodes["UserCreateNode"], "create", {"name": f"n{i}", "email": f"{i}@x", "age": i})
                workflow.add_node(db.nodes["UserReadNode"], "read", {})
                workflow.add_connection("create", "id", "read", "id")
                results, _ = await runtime.execute_async(workflow.build(), transaction=True)
                return int(results["read"]["age"])

            ages = await asyncio.gather(*(one(i) for i in range(40)))
            state = (await db.pool()).state()
            assert state["size"] <= 3 and state["in_use"] == 0
            return list(ages)
        finally:
            await db.close_async()

    assert asyncio.run(main()) == list(range(40))
    check = open_db(dataflow_database_url)
    try:
        define_people(check)
        assert count(check, "User") == 40
    finally:
        check.close()


def test_independent_branches_of_one_run_share_its_transaction(db: DataFlow) -> None:
    define_people(db)
    workflow = WorkflowBuilder()
    for i in range(4):
        workflow.add_node(db.nodes["UserBulkCreateNode"], f"bulk{i}", {"data": people(25, start=i * 25)})
    outcome, _ = LocalRuntime().execute(workflow.build(), transaction=True)
    assert [outcome[f"bulk{i}"]["inserted"] for i in range(4)] == [25] * 4
    assert count(db, "User") == 100


def test_a_pools_in_use_counter_follows_acquire_release_and_discard(dataflow_database_url: str) -> None:
    async def main() -> list[tuple[int, int]]:
        db = open_db(dataflow_database_url, pool_size=3)
        try:
            pool = await db.pool()
            seen = [(pool.in_use, pool.state()["in_use"])]
            first, second = await pool.acquire(), await pool.acquire()
            seen.append((pool.in_use, pool.state()["in_use"]))
            await pool.release(first)
            seen.append((pool.in_use, pool.state()["in_use"]))
            await pool.release(second, discard=True)
            await pool.release(second)  # given back twice: the second time changes nothing
            seen.append((pool.in_use, pool.state()["in_use"]))
            return seen
        finally:
            await db.close_async()

    assert asyncio.run(main()) == [(0, 0), (2, 2), (1, 1), (0, 0)]
