"""Small workflow helpers the monitor tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder
from dataflow.nodes.base import Node
from dataflow.session import Session
from dataflow_monitor import Monitor


def define_item(db: DataFlow, **options: Any) -> None:
    @db.model
    class Item:
        name: str
        qty: int = 0
        __dataflow__ = options

    del Item


def monitor(db: DataFlow) -> Monitor:
    return Monitor.of(db)


async def run(workflow: WorkflowBuilder, **options: Any) -> dict[str, Any]:
    results, _ = await AsyncLocalRuntime().execute_async(workflow, **options)
    return results


def one_node(node_type: Any, params: dict[str, Any]) -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    workflow.add_node(node_type, "n", params)
    return workflow


class Gate(Node):
    """Waits on ``barrier`` (an asyncio.Barrier), ``event`` or ``sleep`` seconds, then outputs ``{"id": next_id}``.

    Puts two concurrent runs in a chosen order without touching any database.
    """

    type_name = "Gate"

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        if "signal" in inputs:
            inputs["signal"].set()
        if "barrier" in inputs:
            await inputs["barrier"].wait()
        if "event" in inputs:
            await inputs["event"].wait()
        if "sleep" in inputs:
            await asyncio.sleep(inputs["sleep"])
        return {"id": inputs.get("next_id"), "version": inputs.get("version")}


def samples(db: DataFlow, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples called ``name`` in ``db``'s registry, by their labels (without ``database``)."""
    found = {}
    for family in monitor(db).metrics.registry.collect():
        for sample in family.samples:
            if sample.name == name:
                labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "database"))
                found[labels] = sample.value
    return found
