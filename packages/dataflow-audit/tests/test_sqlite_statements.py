"""What an audited one-record write costs on SQLite, statement by statement (traced on the real connection)."""

from __future__ import annotations

import asyncio
from typing import Any

from audit_helpers import audit_rows

from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder


async def _traced_update(db: DataFlow, times: int) -> list[str]:
    """Create a user, then update it ``times`` times; the SQL of the updates, as sqlite3 ran it."""
    runtime = AsyncLocalRuntime()

    async def run(node: str, params: dict[str, Any]) -> Any:
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes[node], "n", params)
        results, _ = await runtime.execute_async(workflow.build())
        return results["n"]

    user = await run("UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    statements: list[str] = []
    # The pool hands the one idle connection out again (last in, first out): the runs below use it.
    async with db.standalone_session() as session:
        session.connection.raw.set_trace_callback(statements.append)
    try:
        for age in range(1, times + 1):
            await run("UserUpdateNode", {"id": user["id"], "fields": {"age": age}})
    finally:
        async with db.standalone_session() as session:
            session.connection.raw.set_trace_callback(None)
    await db.close_loop(asyncio.get_running_loop())
    return statements


def test_an_audited_update_writes_the_chain_head_once(sqlite_db: DataFlow) -> None:
    statements = asyncio.run(_traced_update(sqlite_db, 3))
    head_writes = [s for s in statements if s.startswith('UPDATE "dataflow_audit_head"')]
    head_reads = [s for s in statements if s.startswith('SELECT "seq", "hash" FROM "dataflow_audit_head"')]
    assert len(head_writes) == 3 and len(head_reads) == 3, statements
    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"] * 3, statements
    rows = audit_rows(sqlite_db)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    head = sqlite_db.sql('SELECT "seq", "hash" FROM "dataflow_audit_head"')
    assert head == [{"seq": 4, "hash": rows[-1]["hash"]}]
    assert sqlite_db.audit.verify().ok
