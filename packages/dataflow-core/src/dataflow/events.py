"""Events that monitors receive. Frozen, so a monitor cannot change what others see."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

import attrs

log = logging.getLogger("dataflow.monitor")


@attrs.frozen
class StatementExecuted:
    """One statement finished (or failed). Parameters are never included."""

    database: str
    sql: str
    duration: float
    rowcount: int | None
    model: str | None
    operation: str | None
    run_id: str | None
    error: str | None = None
    key: Any = None
    """The primary key of the one record the statement read or wrote by key (Read, Update/Delete by id,
    Upsert); None for statements on many rows. A key, never a value of the record."""


@attrs.frozen
class NodeFinished:
    run_id: str
    node_id: str
    node_type: str
    duration: float
    error: str | None = None


@attrs.frozen
class TransactionFinished:
    database: str
    run_id: str | None
    committed: bool


@attrs.frozen
class WorkflowFinished:
    """A workflow run ended; sent to the monitors of every database the run opened a session on."""

    run_id: str
    duration: float
    nodes: int
    """Nodes that finished (skipped and failed ones not counted)."""
    error: str | None = None
    """The class name of the error that failed the run, or None."""


@attrs.frozen
class PoolState:
    """A pool right after a connection was acquired for a session (``acquire_wait``: seconds it took)."""

    database: str
    size: int
    in_use: int
    idle: int
    waiting: int
    acquire_wait: float


Event = StatementExecuted | NodeFinished | TransactionFinished | WorkflowFinished | PoolState


class Monitor(Protocol):
    def handle(self, event: Any) -> None: ...


def emit(monitors: Sequence[Monitor], event: Any) -> None:
    """Give ``event`` to each monitor; a failing monitor is logged, never raised."""
    for monitor in monitors:
        try:
            monitor.handle(event)
        except Exception:
            log.exception("monitor %r failed on %s", monitor, type(event).__name__)
