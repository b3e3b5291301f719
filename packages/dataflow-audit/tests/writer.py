"""A process that writes audited records: ``writer.py URL N NAME`` creates N users, each in its own run.

``writer.py URL update KEY START`` sets user KEY's age to START, START + 1, ... (15 updates, a run each).

``writer.py URL crash-open`` writes one user inside a transaction, prints ``written`` and waits
to be killed; ``writer.py URL crash-committed`` commits one user, prints ``written`` and waits.
"""

from __future__ import annotations

import asyncio
import sys
import time

from audit_helpers import define_models, open_db

from dataflow import AsyncLocalRuntime, WorkflowBuilder


async def _writes(url: str, count: int, name: str) -> None:
    db = open_db(url)
    define_models(db)
    runtime = AsyncLocalRuntime()
    for i in range(count):
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["UserCreateNode"], "create", {"name": name, "email": f"{name}{i}@example.com"})
        await runtime.execute_async(workflow, actor=name)
    await db.close_async()


async def _updates(url: str, key: int, start: int) -> None:
    db = open_db(url)
    define_models(db)
    runtime = AsyncLocalRuntime()
    for age in range(start, start + 15):
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["UserUpdateNode"], "update", {"id": key, "fields": {"age": age}})
        await runtime.execute_async(workflow)
    await db.close_async()


async def _crash(url: str, commit: bool) -> None:
    db = open_db(url)
    define_models(db)
    async with db.transaction() as tx:
        await tx.create("User", {"name": "Doomed", "email": "doomed@example.com"})
        if not commit:
            print("written", flush=True)
            time.sleep(600)
    print("written", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    url, what = sys.argv[1], sys.argv[2]
    if what == "update":
        asyncio.run(_updates(url, int(sys.argv[3]), int(sys.argv[4])))
    elif what.startswith("crash-"):
        asyncio.run(_crash(url, commit=what == "crash-committed"))
    else:
        asyncio.run(_writes(url, int(what), sys.argv[3]))
