"""What an audited one-record write costs on SQLite, statement by statement (traced on the real connection)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from audit_helpers import audit_rows, people, run_node

from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder
from dataflow.errors import UniqueViolationError


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


async def _history_plans(db: DataFlow, key: int, keys: list[int]) -> tuple[list[str], list[str]]:
    """The query plans of the reads ``history`` and ``histories`` (GDPR export) make, as SQLite plans them."""
    statements: list[str] = []
    async with db.standalone_session() as session:
        session.connection.raw.set_trace_callback(statements.append)
    try:
        one = await db.audit.history_async("User", key)
        many = await db.audit.histories_async("User", keys)
    finally:
        async with db.standalone_session() as session:
            raw = session.connection.raw
            raw.set_trace_callback(None)
            reads = [s for s in statements if s.startswith("SELECT") and 'FROM "dataflow_audit"' in s]
            plans = [row[3] for s in reads for row in raw.execute(f"EXPLAIN QUERY PLAN {s}")]
            assert len(reads) == 2, statements
    await db.close_loop(asyncio.get_running_loop())
    assert len(one) == 2 and len(many) == 3 + 1  # a create each, and the update
    return reads, plans


def test_history_reads_search_an_index_for_each_way_an_entry_names_a_record(sqlite_db: DataFlow) -> None:
    created = run_node(sqlite_db, "UserBulkCreateNode", {"data": people(3)})  # one bulk entry
    run_node(sqlite_db, "UserUpdateNode", {"id": 2, "fields": {"age": 50}})  # and one of a record
    assert created == {"inserted": 3}
    reads, plans = asyncio.run(_history_plans(sqlite_db, 2, [1, 2, 3]))
    searches = [plan for plan in plans if plan.startswith(("SEARCH", "SCAN"))]
    # An OR of the two made SQLite walk every entry of the model ("SEARCH ... USING INDEX ... (model=?)").
    assert searches == [
        "SEARCH dataflow_audit USING INDEX ix_dataflow_audit_model_record_key (model=? AND record_key=?)",
        "SEARCH dataflow_audit USING INDEX ix_dataflow_audit_model_key_low (model=? AND key_low<?)",
        "SEARCH dataflow_audit USING INDEX ix_dataflow_audit_model_record_key (model=? AND record_key=?)",
        "SEARCH dataflow_audit USING INDEX ix_dataflow_audit_model_key_low (model=? AND key_low<?)",
    ], (reads, plans)


def test_the_bulk_range_index_holds_bulk_entries_only(sqlite_db: DataFlow) -> None:
    run_node(sqlite_db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})  # makes the tables
    (index,) = sqlite_db.sql("SELECT sql FROM sqlite_master WHERE name = 'ix_dataflow_audit_model_key_low'")
    assert index["sql"].endswith('WHERE "key_low" IS NOT NULL'), index


async def _traced_hops(db: DataFlow, user: int, params: dict[str, Any]) -> tuple[list[str], int]:
    """The SQL sqlite3 ran for one Update workflow of ``user``, and how many hops to its thread it made."""
    runtime = AsyncLocalRuntime()
    statements: list[str] = []
    async with db.standalone_session() as session:
        connection = session.connection
        connection.raw.set_trace_callback(statements.append)
    hops = 0
    run = connection.run

    async def counted(action: Any) -> Any:
        nonlocal hops
        hops += 1
        return await run(action)

    connection.run = counted  # type: ignore[method-assign]
    try:
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["UserUpdateNode"], "n", {"id": user, **params})
        await runtime.execute_async(workflow.build())
    finally:
        del connection.run
        connection.raw.set_trace_callback(None)
    await db.close_loop(asyncio.get_running_loop())
    return statements, hops


def test_an_audited_update_by_id_is_one_program_in_one_hop(sqlite_db: DataFlow) -> None:
    ann = run_node(sqlite_db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    statements, hops = asyncio.run(_traced_hops(sqlite_db, ann["id"], {"fields": {"age": 5}}))
    assert hops == 1
    kinds = [" ".join(s.split()[:3]) for s in statements]
    assert kinds == ["BEGIN IMMEDIATE", 'SELECT "age" FROM', 'UPDATE "user" SET', 'SELECT "seq", "hash"',
                     'INSERT INTO "dataflow_audit"', 'UPDATE "dataflow_audit_head" SET',
                     "COMMIT"], statements  # fmt: skip
    rows = audit_rows(sqlite_db)
    assert [(r["seq"], r["operation"], r["changes"]) for r in rows][-1] == (2, "update", '{"age":[0,5]}')
    assert sqlite_db.audit.verify().ok


def test_an_update_that_changes_nothing_audited_writes_in_the_same_hop_and_leaves_the_head(
    sqlite_db: DataFlow,
) -> None:
    ann = run_node(sqlite_db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    head = sqlite_db.sql('SELECT "seq", "hash" FROM "dataflow_audit_head"')
    statements, hops = asyncio.run(_traced_hops(sqlite_db, ann["id"], {"fields": {"age": 0, "name": "Ann"}}))
    assert hops == 1
    assert not [s for s in statements if "dataflow_audit" in s], statements
    assert sqlite_db.sql('SELECT "seq", "hash" FROM "dataflow_audit_head"') == head
    assert len(audit_rows(sqlite_db)) == 1


def test_an_update_failing_after_its_write_inside_a_transaction_undoes_only_itself(sqlite_db: DataFlow) -> None:
    note = run_node(sqlite_db, "NoteCreateNode", {"title": "t"})
    ann = run_node(sqlite_db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    # Without its head row the user chain restarts at seq 1, which exists: the entry's INSERT fails after the UPDATE.
    sqlite_db.sql("DELETE FROM dataflow_audit_head WHERE chain = :c", {"c": "-/user"})

    async def scenario() -> None:
        async with sqlite_db.transaction() as tx:
            await tx.update("Note", note["id"], {"title": "u"})
            with pytest.raises(UniqueViolationError):
                await tx.update("User", ann["id"], {"age": 40})
            await tx.update("Note", note["id"], {"title": "v"})
        await sqlite_db.close_loop(asyncio.get_running_loop())

    asyncio.run(scenario())
    assert sqlite_db.sql('SELECT "age" FROM "user"') == [{"age": 0}]
    assert sqlite_db.sql('SELECT "title" FROM "note"') == [{"title": "v"}]
    assert [h["chain"] for h in sqlite_db.sql("SELECT chain FROM dataflow_audit_head")] == ["-/note"]
    rows = audit_rows(sqlite_db)
    assert [(r["chain"], r["seq"], r["operation"]) for r in rows] == [
        ("-/note", 1, "create"), ("-/user", 1, "create"), ("-/note", 2, "update"), ("-/note", 3, "update")
    ]  # fmt: skip
    assert [json.loads(r["changes"]) for r in rows[2:]] == [{"title": ["t", "u"]}, {"title": ["u", "v"]}]
