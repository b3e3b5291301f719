"""How the replica benchmarks print their rounds: ratios per round, and DataFlow's own share of them."""

from __future__ import annotations

import statistics
from collections.abc import Iterable


def print_ratios(medians: dict[str, list[float]], rows: Iterable[tuple[str, str, str, str]]) -> None:
    """One line per ``(what, side, base side, target)``: the median and min-max of side / base over the rounds."""
    for what, ours, base, target in rows:
        ratios = per_round(medians, ours, base)
        print(f"  {what:<38} {statistics.median(ratios):.2f}x per round "
              f"({min(ratios):.2f}-{max(ratios):.2f}){target}")  # fmt: skip


def per_round(medians: dict[str, list[float]], ours: str, base: str) -> list[float]:
    return [a / b for a, b in zip(medians[ours], medians[base], strict=True)]


def print_replica_cost(medians: dict[str, list[float]], rows: Iterable[tuple[str, str, str]], raw: tuple[str, str]
                       ) -> None:  # fmt: skip
    """DataFlow's replica/primary read latency beside the raw driver's from the same rounds, and their quotient.

    On one machine the servers differ from round to round (a replica's
    process shares the cores with the primary's and with this one), and the
    raw driver sees the same difference. Dividing, round by round, DataFlow's
    ratio by the raw one leaves what DataFlow itself adds on the replica path.
    """
    hardware = per_round(medians, *raw)
    for what, ours, base in rows:
        ratios = per_round(medians, ours, base)
        own = [ratio / raw_ratio for ratio, raw_ratio in zip(ratios, hardware, strict=True)]
        print(f"  {what:<38} {range_of(ratios)} per round; raw driver, same rounds {range_of(hardware)}; "
              f"DataFlow's own {range_of(own)} (target <= 1.10)")  # fmt: skip


def range_of(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def print_routing(results: dict[str, list[float]]) -> None:
    print("\nrouting decision per node, alone (median of rounds, min-max):")
    for case, values in results.items():
        print(f"  {case:<34} {statistics.median(values):.2f}us ({min(values):.2f}-{max(values):.2f}) (target < 5us)")


def spread(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e6:.0f}us ({min(values) * 1e6:.0f}-{max(values) * 1e6:.0f})"
