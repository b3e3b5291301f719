"""Slow statements: kept, logged with their SQL (never their parameters), and explained on request."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

import attrs

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


class SlowStatementLog:
    """The recent slow statements of one instance, with their plans once captured."""

    def __init__(self, db: Any, size: int) -> None:
        self.db = db
        self.entries: deque[SlowStatement] = deque(maxlen=size)
        self._tasks: set[asyncio.Task[None]] = set()

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
        if explain_it and explainable(entry.sql):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            task = loop.create_task(self._explain(entry, timeout), name="dataflow-monitor-explain")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _explain(self, entry: SlowStatement, timeout: float) -> None:
        try:
            entry.plan = await explain(self.db, entry.sql, timeout)
        except NotExplainable as exc:
            entry.plan_error = str(exc)
            return
        except Exception as exc:  # noqa: BLE001 - a plan is a bonus: it never fails anything
            entry.plan_error = f"{type(exc).__name__}: {exc}"
            log.info("could not explain a slow statement on %s: %s", entry.database, entry.plan_error)
            return
        log.warning("plan of the slow statement on %s: %s\n%s", entry.database, entry.sql, entry.plan)

    async def settle(self) -> None:
        """Wait for the plans being captured on this loop."""
        loop = asyncio.get_running_loop()
        pending = [task for task in list(self._tasks) if task.get_loop() is loop]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
