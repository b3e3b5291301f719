"""Fixtures: fresh databases on every backend (from dataflow.testing.servers) and small workflow helpers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder
from dataflow.nodes.base import Node
from dataflow.session import Session
from dataflow.testing.servers import (  # noqa: F401 - fixtures
    any_database_url,
    postgres_session_database,
    server_database_url,
)
from dataflow_monitor import Monitor


@pytest.fixture(autouse=True)
def monitor_never_fails(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test also checks that the monitor raised on no event (core logs and swallows those)."""
    caplog.set_level(logging.WARNING, logger="dataflow")
    yield
    failures = [r for r in caplog.records if r.name == "dataflow.monitor" and "failed on" in r.getMessage()]
    assert not failures, failures[0].getMessage()


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
