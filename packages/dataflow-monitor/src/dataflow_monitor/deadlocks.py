"""Deadlocks, from the statements that failed with ``DeadlockError``.

The database reports a deadlock to the transaction it aborts. The report
keeps that run's recent statements and those of the other runs that were
open on the same models at that moment: the likely other side.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

import attrs

log = logging.getLogger("dataflow.monitor.locks")


@attrs.frozen
class DeadlockReport:
    """One deadlock, as the aborted run saw it."""

    database: str
    run_id: str | None
    model: str | None
    sql: str
    """The statement the database aborted."""
    statements: tuple[str, ...]
    """The aborted run's recent statements, oldest first (the failed one last)."""
    others: dict[str, tuple[str, ...]]
    """Recent statements of the other runs open on the same models, by run id."""
    at: float = attrs.field(factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class DeadlockLog:
    """The recent deadlocks of one instance."""

    def __init__(self, size: int = 50) -> None:
        self.entries: deque[DeadlockReport] = deque(maxlen=size)
        self.count = 0

    def record(self, report: DeadlockReport) -> None:
        self.count += 1
        self.entries.append(report)
        others = "; ".join(f"run {run}: {' / '.join(sql)}" for run, sql in report.others.items()) or "none seen"
        log.warning(
            "deadlock on %s: run %s was aborted at %s (its statements: %s) (other runs on %s: %s)",
            report.database,
            report.run_id,
            report.sql,
            " / ".join(report.statements),
            report.model or "the same tables",
            others,
            extra={"dataflow_deadlock": report.as_dict()},
        )
