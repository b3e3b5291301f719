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
class PoolState:
    database: str
    size: int
    in_use: int
    idle: int
    waiting: int
    acquire_wait: float


Event = StatementExecuted | NodeFinished | TransactionFinished | PoolState


class Monitor(Protocol):
    def handle(self, event: Any) -> None: ...


def emit(monitors: Sequence[Monitor], event: Any) -> None:
    """Give ``event`` to each monitor; a failing monitor is logged, never raised."""
    for monitor in monitors:
        try:
            monitor.handle(event)
        except Exception:
            log.exception("monitor %r failed on %s", monitor, type(event).__name__)
