"""Concurrent writers: every entry's before image is the row as the previous write left it."""

from __future__ import annotations

import asyncio
import itertools
import json

from audit_helpers import audit_rows, define_models, open_db, run_node

from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder


async def _update_many(db: DataFlow, key: int, ages: range) -> None:
    runtime = AsyncLocalRuntime()
    for age in ages:
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["UserUpdateNode"], "update", {"id": key, "fields": {"age": age}})
        await runtime.execute_async(workflow)


async def _race(url: str, key: int) -> None:
    # Two writers at once on one record, each run on a connection of its own.
    db = open_db(url)
    define_models(db)
    try:
        await asyncio.gather(_update_many(db, key, range(1000, 1040)), _update_many(db, key, range(2000, 2040)))
    finally:
        await db.close_async()


def test_concurrent_updates_of_one_record_chain_their_before_and_after_images(db: DataFlow) -> None:
    user = run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    asyncio.run(_race(db.url.render(hide_password=False), user["id"]))
    updates = [r for r in audit_rows(db) if r["operation"] == "update" and r["record_key"] == str(user["id"])]
    updates.sort(key=lambda r: r["seq"])
    assert len(updates) == 80
    ages = [json.loads(r["changes"])["age"] for r in updates]
    # The trail's order is the order of the writes: each before is the after of the entry before it.
    assert ages[0][0] == 0
    for previous, current in itertools.pairwise(ages):
        assert current[0] == previous[1], f"an entry says the age was {current[0]}, but it was {previous[1]}"
    assert ages[-1][1] == db.express_sync.read("User", user["id"])["age"]
    assert db.audit.verify().ok
