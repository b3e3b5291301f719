"""What each open transaction of a workflow run has done: its last statements, its models, its start.

A deadlock report names the statements of the aborted transaction and of the
other transactions open at that moment on the same models; the transaction
histogram needs each one's BEGIN time. A run is followed from its BEGIN to
its COMMIT or ROLLBACK (runs outside transactions cost one dict lookup per
statement), and the oldest are dropped past :attr:`RunTracker.limit`.
"""

from __future__ import annotations

from collections import deque
from time import perf_counter
from typing import Any

STATEMENTS_PER_RUN = 16


class RunActivity:
    """The recent statements of one run."""

    __slots__ = ("began", "deadlocked", "models", "statements")

    def __init__(self) -> None:
        self.statements: deque[str] = deque(maxlen=STATEMENTS_PER_RUN)
        self.models: set[str] = set()
        self.began: float | None = None
        self.deadlocked = False


class RunTracker:
    """Recent activity of the runs that are still open, bounded."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._runs: dict[str, RunActivity] = {}

    def statement(self, run_id: str, sql: str, model: str | None) -> None:
        activity = self._runs.get(run_id)
        if activity is None:
            if sql != "BEGIN":
                return  # only transactions are followed: deadlocks and transaction times need nothing else
            if len(self._runs) >= self.limit:
                # Insertion order: the oldest runs go first; they are the likeliest to be over.
                for old in list(self._runs)[: self.limit // 4]:
                    del self._runs[old]
            activity = self._runs[run_id] = RunActivity()
        activity.statements.append(sql)
        if model is not None:
            activity.models.add(model)
        if sql == "BEGIN":
            activity.began = perf_counter()
            activity.statements.clear()

    def get(self, run_id: str | None) -> RunActivity | None:
        return self._runs.get(run_id) if run_id is not None else None

    def finished(self, run_id: str | None) -> RunActivity | None:
        """Forget ``run_id``; return what it had done."""
        return self._runs.pop(run_id, None) if run_id is not None else None

    def others_on(self, run_id: str | None, models: set[str]) -> dict[str, list[str]]:
        """Recent statements of the other open runs that used any of ``models``."""
        return {
            other: list(activity.statements)
            for other, activity in list(self._runs.items())
            if other != run_id and (not models or activity.models & models)
        }

    def __len__(self) -> int:
        return len(self._runs)

    def describe(self) -> dict[str, Any]:
        return {"open_runs": len(self._runs)}
