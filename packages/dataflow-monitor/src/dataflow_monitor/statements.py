"""Per-statement totals (count, time, slowest, errors) for the "top statements" table.

Keyed by SQL text, which DataFlow builds from the schema with every value
bound, so the same statement shape has the same text. The table is bounded:
past :attr:`StatementTable.limit` distinct texts, new ones are added up under
one ``(other statements)`` row.
"""

from __future__ import annotations

from typing import Any

OTHER_STATEMENTS = "(other statements)"
MAX_SQL_LENGTH = 2000
"""Longer texts (multi-row VALUES of a bulk insert) are kept by their first characters."""


class StatementStats:
    """Totals of one statement text."""

    __slots__ = ("count", "errors", "longest", "model", "operation", "seconds", "sql")

    def __init__(self, sql: str, model: str | None, operation: str | None) -> None:
        self.sql = sql
        self.model = model
        self.operation = operation
        self.count = 0
        self.seconds = 0.0
        self.longest = 0.0
        self.errors = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sql": self.sql,
            "model": self.model,
            "operation": self.operation,
            "count": self.count,
            "seconds": self.seconds,
            "mean_seconds": self.seconds / self.count if self.count else 0.0,
            "max_seconds": self.longest,
            "errors": self.errors,
        }


class StatementTable:
    """Totals by statement text, bounded."""

    def __init__(self, limit: int = 500) -> None:
        self.limit = limit
        self._stats: dict[str, StatementStats] = {}

    def add(self, sql: str, duration: float, model: str | None, operation: str | None, failed: bool) -> None:
        stats = self._stats.get(sql)
        if stats is None:
            stats = self._new(sql, model, operation)
        stats.count += 1
        stats.seconds += duration
        stats.longest = max(stats.longest, duration)
        if failed:
            stats.errors += 1

    def _new(self, sql: str, model: str | None, operation: str | None) -> StatementStats:
        if len(sql) > MAX_SQL_LENGTH:
            key = sql[:MAX_SQL_LENGTH] + " ..."
            stats = self._stats.get(key)
            if stats is not None:
                return stats
        else:
            key = sql
        if len(self._stats) >= self.limit:
            key, model, operation = OTHER_STATEMENTS, None, None
            stats = self._stats.get(key)
            if stats is not None:
                return stats
        stats = self._stats[key] = StatementStats(key, model, operation)
        if key is not sql:
            # Later events with the long text land here directly: no slicing on the hot path again.
            self._stats[sql] = stats
        return stats

    def top(self, count: int = 10, by: str = "seconds") -> list[dict[str, Any]]:
        """The ``count`` statements with the most total ``seconds`` (or ``count``, ``max_seconds``, ``errors``)."""
        key = {"seconds": "seconds", "count": "count", "max_seconds": "longest", "errors": "errors"}[by]
        unique = {id(stats): stats for stats in list(self._stats.values())}.values()
        ranked = sorted(unique, key=lambda stats: getattr(stats, key), reverse=True)
        return [stats.as_dict() for stats in ranked[:count]]

    def clear(self) -> None:
        self._stats.clear()
