"""Possible lost updates on models without versions.

A lost update: run A reads a row, run B writes it, then A writes it from
what it read, undoing B's change. Seen from the statements: A's write of a
row follows another run's write of that row, which followed A's read of it,
all within ``window`` seconds.

This needs the key of the row each single-record statement touched. The
core's ``StatementExecuted`` event carries it as ``key`` where the core
provides it; without it the detector has nothing to look at and stays idle.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

import attrs

log = logging.getLogger("dataflow.monitor.races")


@attrs.frozen
class PossibleLostUpdate:
    """A write that may have overwritten another run's write unseen."""

    database: str
    model: str
    key: Any
    run_id: str
    """The run whose write may have undone the other's."""
    other_run_id: str
    """The run whose write happened between this run's read and its write."""
    read_to_write: float
    """Seconds from this run's read to its write."""
    at: float = attrs.field(factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class LostUpdateDetector:
    """Reads and writes of single rows by run, kept for ``window`` seconds."""

    def __init__(self, database: str, window: float, limit: int = 20_000) -> None:
        self.database = database
        self.window = window
        self.limit = limit
        self._reads: dict[tuple[str, Any], dict[str, float]] = {}
        self._writes: dict[tuple[str, Any], tuple[str, float]] = {}
        self.entries: deque[PossibleLostUpdate] = deque(maxlen=100)

    def read(self, run_id: str, model: str, key: Any, now: float) -> None:
        readers = self._reads.get((model, key))
        if readers is None:
            self._prune(now)
            readers = self._reads[(model, key)] = {}
        readers[run_id] = now

    def write(self, run_id: str, model: str, key: Any, now: float) -> PossibleLostUpdate | None:
        row = (model, key)
        found = None
        readers = self._reads.get(row)
        read_at = readers.get(run_id) if readers else None
        last = self._writes.get(row)
        if (
            read_at is not None
            and last is not None
            and last[0] != run_id
            and read_at <= last[1]
            and now - read_at <= self.window
        ):
            found = PossibleLostUpdate(self.database, model, key, run_id, last[0], now - read_at)
            self.entries.append(found)
            log.warning(
                "possible lost update on %s: %s %r was written by run %s after run %s read it and before it "
                "wrote it (%.3fs from read to write); use a versioned model or a transaction that locks the row",
                self.database,
                model,
                key,
                last[0],
                run_id,
                now - read_at,
                extra={"dataflow_lost_update": found.as_dict()},
            )
        if row not in self._writes:
            self._prune(now)
        self._writes[row] = (run_id, now)
        if readers is not None:
            readers.pop(run_id, None)  # the run's next write needs a new read to count
        return found

    def _prune(self, now: float) -> None:
        if len(self._reads) + len(self._writes) < self.limit:
            return
        horizon = now - self.window
        self._writes = {row: w for row, w in self._writes.items() if w[1] >= horizon}
        reads: dict[tuple[str, Any], dict[str, float]] = {}
        for row, readers in self._reads.items():
            kept = {run: t for run, t in readers.items() if t >= horizon}
            if kept:
                reads[row] = kept
        self._reads = reads
        if len(self._reads) + len(self._writes) >= self.limit:
            # All within the window: forget the oldest half rather than grow.
            self._reads = dict(list(self._reads.items())[len(self._reads) // 2 :])
            self._writes = dict(list(self._writes.items())[len(self._writes) // 2 :])
