"""SQL functions DataFlow adds to every SQLite connection: exact aggregates over Decimals stored as text.

SQLite's own ``SUM``, ``MIN`` and ``MAX`` would read a text Decimal as a
float (losing digits) or compare it as text (``"10" < "9"``). These run in
Python on the connection's thread, exactly, and return the result as text,
which the field's decoder turns back into a ``Decimal``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3


class _DecimalAggregate:
    def __init__(self) -> None:
        self.values: list[Decimal] = []

    def step(self, value: str | None) -> None:
        if value is not None:
            self.values.append(Decimal(value))


class DecimalSum(_DecimalAggregate):
    def finalize(self) -> str | None:
        return str(sum(self.values, Decimal(0))) if self.values else None


class DecimalMin(_DecimalAggregate):
    def finalize(self) -> str | None:
        return str(min(self.values)) if self.values else None


class DecimalMax(_DecimalAggregate):
    def finalize(self) -> str | None:
        return str(max(self.values)) if self.values else None


DECIMAL_AGGREGATES = {"SUM": "dataflow_decimal_sum", "MIN": "dataflow_decimal_min", "MAX": "dataflow_decimal_max"}


def install(raw: sqlite3.Connection) -> None:
    """Register the functions on ``raw`` (on its own thread, when it opens)."""
    # typeshed types aggregates as int -> int only; these take and return text.
    aggregates: dict[str, Any] = {"dataflow_decimal_sum": DecimalSum, "dataflow_decimal_min": DecimalMin,
                                  "dataflow_decimal_max": DecimalMax}  # fmt: skip
    for name, aggregate in aggregates.items():
        raw.create_aggregate(name, 1, aggregate)
