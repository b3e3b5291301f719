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


ROUNDS = 10


def _race_models(db: DataFlow) -> None:
    for k in range(ROUNDS):
        namespace = {"__annotations__": {"name": str}, "__dataflow__": {"audit": True, "table": f"first_race_{k}"}}
        db.model(type(f"FirstRace{k}", (), namespace))


async def _first_writes(url: str) -> list[BaseException]:
    # Four instances, as four processes would be: none has appended to any of the chains before.
    instances = [open_db(url) for _ in range(4)]
    runtime = AsyncLocalRuntime()
    failures: list[BaseException] = []
    try:
        for db in instances:
            _race_models(db)
            await db.express.count("FirstRace0")  # tables made and checked one instance at a time, before the race
        for k in range(ROUNDS):
            runs = []
            for n, db in enumerate(instances):
                workflow = WorkflowBuilder()
                workflow.add_node(db.nodes[f"FirstRace{k}CreateNode"], "create", {"name": f"writer{n}"})
                runs.append(runtime.execute_async(workflow))
            failures += [r for r in await asyncio.gather(*runs, return_exceptions=True) if isinstance(r, BaseException)]
    finally:
        for db in instances:
            await db.close_async()
    return failures


def test_first_writers_of_a_new_chain_at_once_all_succeed(any_database_url: str) -> None:
    """Each round's four writers race to make a chain's head row: none may fail (InnoDB used to deadlock them)."""
    failures = asyncio.run(_first_writes(any_database_url))
    assert failures == []
    db = open_db(any_database_url)
    _race_models(db)
    try:
        rows = audit_rows(db)
        for k in range(ROUNDS):
            assert sorted(r["seq"] for r in rows if r["chain"] == f"-/first_race_{k}") == [1, 2, 3, 4]
        assert db.audit.verify().ok
    finally:
        db.close()
