"""Workflow nodes of the monitor: a health check and a metrics snapshot, for any monitored database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dataflow.database import live_instances
from dataflow.errors import ValidationError
from dataflow.nodes.base import Node
from dataflow.session import Session

from .monitor import Monitor


def monitored(selection: Any) -> list[Any]:
    """The live monitored instances, or those ``selection`` names (labels or instances)."""
    found = [db for db in live_instances() if Monitor in db.extensions]
    if selection is None:
        return sorted(found, key=lambda db: db.label)
    wanted: Sequence[Any] = (
        [selection] if isinstance(selection, str) or not isinstance(selection, Sequence) else selection
    )
    chosen = []
    for item in wanted:
        match = [db for db in found if db is item or db.label == item]
        if not match:
            raise ValidationError(f"no monitored DataFlow instance {item!r} is open", field="databases")
        chosen.extend(match)
    return chosen


class HealthCheckNode(Node):
    """Checks each monitored database (or those named in ``databases``): round trip, version, pool, problems.

    Output: ``{"healthy": bool, "databases": [report, ...]}``; a database that
    is down makes ``healthy`` false, it does not fail the node.
    """

    type_name = "HealthCheckNode"
    parameters = frozenset({"databases", "after"})
    """``after`` takes any value: connect a node's output to it to check once that node has run."""

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        reports = [await db.health() for db in monitored(inputs.get("databases"))]
        return {"healthy": all(r.healthy for r in reports), "databases": [r.as_dict() for r in reports]}


class TransactionMonitorNode(Node):
    """The current metrics snapshot of each monitored database (or those named in ``databases``).

    Output: ``{"databases": [snapshot, ...]}``, each with statements by model
    and operation, top statements (``top``, default 10), nodes, commits and
    rollbacks, pool, slow statements, deadlocks, lock waits and races.
    """

    type_name = "TransactionMonitorNode"
    parameters = frozenset({"databases", "top", "after"})
    """``after`` takes any value: connect a node's output to it to take the snapshot once that node has run."""

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        top = inputs.get("top", 10)
        if type(top) is not int or top < 0:
            raise ValidationError(
                f"TransactionMonitorNode: 'top' must be a non-negative integer, got {top!r}", field="top"
            )
        return {"databases": [db.monitor.snapshot(top) for db in monitored(inputs.get("databases"))]}
