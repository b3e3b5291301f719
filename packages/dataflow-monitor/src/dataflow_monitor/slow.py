"""Slow statements: kept, logged with their SQL (never their parameters), and explained on request."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

import attrs

from dataflow.errors import ConnectionError

from .explain import NotExplainable, explain, explainable

log = logging.getLogger("dataflow.monitor.slow")


@attrs.define
class SlowStatement:
    """One statement that took at least its threshold."""

    database: str
    sql: str
    duration: float
    threshold: float
    model: str | None
    operation: str | None
    run_id: str | None
    error: str | None
    at: float = attrs.field(factory=time.time)
    """Wall-clock time (epoch seconds) when it was seen."""
    plan: str | None = None
    plan_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.define(eq=False)
class _PendingPlan:
    """A slow statement whose plan is wanted, and the task capturing it (on the loop that ran the statement)."""

    entry: SlowStatement
    timeout: float
    task: asyncio.Task[None] | None = None
    interrupted: bool = False
    """The capture stopped for a reason of its loop (cancelled, its pool closed): another loop may try again."""

    @property
    def settled(self) -> bool:
        return self.entry.plan is not None or (not self.interrupted and self.entry.plan_error is not None)


class SlowStatementLog:
    """The recent slow statements of one instance, with their plans once captured."""

    def __init__(self, db: Any, size: int) -> None:
        self.db = db
        self.entries: deque[SlowStatement] = deque(maxlen=size)
        self._pending: list[_PendingPlan] = []

    def record(self, entry: SlowStatement, *, explain_it: bool, timeout: float) -> None:
        self.entries.append(entry)
        log.warning(
            "slow statement on %s: %.3fs (threshold %.3fs) %s.%s: %s",
            entry.database,
            entry.duration,
            entry.threshold,
            entry.model or "-",
            entry.operation or "-",
            entry.sql,
            extra={"dataflow_slow_statement": entry.as_dict()},
        )
        if not (explain_it and explainable(entry.sql)):
            return
        pending = _PendingPlan(entry, timeout)
        # Plans of entries the log dropped are not wanted any more; a running capture stays referenced.
        kept = {id(kept) for kept in self.entries}
        self._pending = [
            p for p in self._pending if (not p.settled and id(p.entry) in kept) or (p.task and not p.task.done())
        ]
        self._pending.append(pending)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: settle() captures it
        pending.task = loop.create_task(self._explain(pending), name="dataflow-monitor-explain")

    async def _explain(self, pending: _PendingPlan) -> None:
        entry = pending.entry
        if entry.plan is not None:
            return  # captured meanwhile by settle() on another loop
        pending.interrupted = False
        try:
            plan = await explain(self.db, entry.sql, pending.timeout)
        except NotExplainable as exc:
            entry.plan_error = str(exc)
            return
        except asyncio.CancelledError:
            # The loop that ran the statement is ending (LocalRuntime's private loop, say).
            pending.interrupted = True
            raise
        except Exception as exc:  # noqa: BLE001 - a plan is a bonus: it never fails anything
            # No connection (its loop's pool closed as the loop ended, say): settle() tries again on its loop.
            pending.interrupted = isinstance(exc, ConnectionError)
            if entry.plan is None:
                entry.plan_error = f"{type(exc).__name__}: {exc}"
                log.info("could not explain a slow statement on %s: %s", entry.database, entry.plan_error)
            return
        if entry.plan is None:
            entry.plan, entry.plan_error = plan, None
            log.warning("plan of the slow statement on %s: %s\n%s", entry.database, entry.sql, plan)

    async def settle(self) -> None:
        """Wait until every wanted plan is captured or has failed, whichever loop ran its statement.

        Captures running on this loop are awaited; those on a loop running in
        another thread are waited for (up to their timeout); those that cannot
        finish (their loop stopped, ended, or closed their pool: statements
        run through the synchronous ``LocalRuntime``) are captured here.
        """
        loop = asyncio.get_running_loop()
        for pending in list(self._pending):
            task = pending.task
            if task is not None and not task.done():
                if task.get_loop() is loop:
                    await asyncio.gather(task, return_exceptions=True)
                else:
                    await _wait_elsewhere(task, pending.timeout)
            if not pending.settled:
                pending.task = None
                await self._explain(pending)
        self._pending = [p for p in self._pending if not p.settled]


async def _wait_elsewhere(task: asyncio.Task[None], timeout: float) -> None:
    """Wait for a task of a loop running in another thread, while that loop runs, at most ``timeout`` seconds."""
    other = task.get_loop()
    deadline = time.monotonic() + timeout
    while not task.done() and other.is_running() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
