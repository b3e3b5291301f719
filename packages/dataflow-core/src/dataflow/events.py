"""Events that monitors receive. Frozen, so a monitor cannot change what others see."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
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


REPEATS_LOGGED_AT = frozenset(1000**power for power in range(1, 5))
"""Counts of one repeated failure at which a one-line reminder is logged (a thousand, a million, ...)."""


class Monitors(list[Monitor]):
    """One instance's monitors (``db.monitors``), and the failures they raised.

    A monitor that raises is never allowed to break a run. Its first failure
    of a kind (the monitor's class, the event's class and the error's class)
    is logged with its traceback; repeats are counted in :attr:`failures`, and
    a one-line reminder is logged when the count reaches a thousand, a million, ...
    """

    def __init__(self, monitors: Iterable[Monitor] = ()) -> None:
        super().__init__(monitors)
        self.failures: dict[tuple[str, str, str], int] = {}
        """``(monitor class, event class, error class)`` to the number of times it happened."""

    def failed(self, monitor: Monitor, event: Any, error: Exception) -> None:
        kind = type(monitor)
        key = (f"{kind.__module__}.{kind.__qualname__}", type(event).__name__, type(error).__name__)
        count = self.failures.get(key, 0) + 1
        self.failures[key] = count
        if count == 1:
            log.error(
                "monitor %s failed on %s; further %s failures of it on %s are counted in db.monitors.failures",
                key[0],
                key[1],
                key[2],
                key[1],
                exc_info=error,
            )
        elif count in REPEATS_LOGGED_AT:
            log.error("monitor %s failed on %s %d times (%s: %s)", key[0], key[1], count, key[2], error)


def emit(monitors: Sequence[Monitor], event: Any) -> None:
    """Give ``event`` to each monitor; a failing monitor is logged (once per kind, then counted), never raised."""
    for monitor in monitors:
        try:
            monitor.handle(event)
        except Exception as exc:
            if isinstance(monitors, Monitors):
                monitors.failed(monitor, event, exc)
            else:
                log.exception("monitor %r failed on %s", monitor, type(event).__name__)
