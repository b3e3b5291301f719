"""Pool lifecycle: cancelled runs, threads that end, and instances nobody closed."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ...database import DataFlow
from ...workflow import AsyncLocalRuntime, WorkflowBuilder
from ..helpers import count, people, run_node


def _bulk_create(db: DataFlow, rows: int) -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    data = [dict(row, email=f"{i}@cancel.example") for i, row in enumerate(people(rows))]
    workflow.add_node(db.nodes["UserBulkCreateNode"], "bulk", {"data": data})
    return workflow


@pytest.mark.parametrize("transaction", [False, True], ids=["plain", "transaction"])
def test_a_timeout_cancels_a_bulk_create_leaving_no_rows_and_no_connection_in_use(
    users: DataFlow, transaction: bool
) -> None:
    async def main() -> tuple[bool, dict[str, int]]:
        await users.create_tables_async()
        run = asyncio.ensure_future(
            AsyncLocalRuntime().execute_async(_bulk_create(users, 100_000), transaction=transaction)
        )
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(run, 0.2)
        state = dict((await users.pool()).state())
        await users.close_loop(asyncio.get_running_loop())
        return run.cancelled(), state

    cancelled, state = asyncio.run(main())
    assert cancelled, "the run did not end cancelled"
    assert state["in_use"] == 0
    assert count(users, "User") == 0


def test_threads_that_ended_leave_no_pools_behind(users: DataFlow) -> None:
    run_node(users, "UserCountNode", {})  # the main thread's pool stays: its thread is alive
    for _ in range(5):
        threads = [threading.Thread(target=run_node, args=(users, "UserCountNode", {})) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(users.pools()) == 1
    assert run_node(users, "UserCountNode", {}) == {"count": 0}
