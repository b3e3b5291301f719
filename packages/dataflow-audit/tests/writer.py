"""A process that writes audited records: ``writer.py URL N NAME`` creates N users, each in its own run.

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
    if what.startswith("crash-"):
        asyncio.run(_crash(url, commit=what == "crash-committed"))
    else:
        asyncio.run(_writes(url, int(what), sys.argv[3]))
