"""The saga the saga tests (and their crash script) define: open an account on two databases, then a bonus."""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

from dataflow import DataFlow, WorkflowBuilder
from dataflow.nodes.base import Node
from dataflow.session import Session
from dataflow_txn import Saga, SagaContext


def pause_node(db: DataFlow, line: str) -> type[Node]:
    """A node that says ``line`` and then hangs (inside its step's open transaction) until killed."""

    class Pause(Node):
        type_name: ClassVar[str] = "Pause"
        database: ClassVar[DataFlow | None] = db

        async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
            print(line, flush=True)
            await asyncio.sleep(3600)
            return {}

    return Pause


def recorder_node(db: DataFlow, journal: list[str], entry: str) -> type[Node]:
    """A node that notes ``entry`` when it runs (to see the order of compensations)."""

    class Record(Node):
        type_name: ClassVar[str] = "Record"
        database: ClassVar[DataFlow | None] = db

        async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
            journal.append(entry)
            return {}

    return Record


def undo(db: DataFlow, journal: list[str] | None, entry: str) -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["AccountDeleteNode"], "delete", {})
    if journal is not None:
        workflow.add_node(recorder_node(db, journal, entry), "record", {})
        workflow.add_connection("delete", "deleted", "record", "deleted")
    return workflow


def opening_saga(
    local: DataFlow,
    remote: DataFlow,
    *,
    name: str = "open_account",
    forward_recoverable: bool = False,
    journal: list[str] | None = None,
    pause: str | None = None,
    fail_bonus: bool = False,
) -> Saga:
    """open (local) -> mirror (remote) -> bonus (local); the first two undone by deleting the account.

    ``pause``: ``"between"`` hangs after the mirror step committed, ``"inside"``
    hangs inside the mirror step's transaction. ``fail_bonus`` makes the last
    step fail (a duplicate name).
    """
    saga = Saga(name, log=local, forward_recoverable=forward_recoverable)

    def opened(ctx: SagaContext) -> dict[str, Any]:
        return {"name": ctx.input["name"], "balance": ctx.input["amount"]}

    def delete(ctx: SagaContext, output: Any) -> dict[str, Any]:
        return {"delete": {"filter": {"name": output["name"]}}}

    saga.step(
        "open",
        local,
        local.nodes["AccountCreateNode"],
        params=opened,
        compensation=undo(local, journal, "open"),
        compensation_params=delete,
    )
    mirror = WorkflowBuilder()
    mirror.add_node(remote.nodes["AccountCreateNode"], "create", {"name": ""})  # named at run time
    if pause == "inside":
        mirror.add_node(pause_node(remote, "inside"), "pause", {})
        mirror.add_connection("create", "id", "pause", "id")
    saga.step(
        "mirror",
        remote,
        mirror,
        params=lambda ctx: {"create": opened(ctx)},
        compensation=undo(remote, journal, "mirror"),
        compensation_params=lambda ctx, output: delete(ctx, output["create"]),
    )

    def bonus(ctx: SagaContext) -> dict[str, Any]:
        if pause == "between":
            print("between", flush=True)
            time.sleep(3600)
        return {"name": ctx.input["name"] if fail_bonus else "bonus", "balance": 1}

    saga.step("bonus", local, local.nodes["AccountCreateNode"], params=bonus)
    return saga
