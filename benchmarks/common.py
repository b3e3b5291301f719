"""Timing helpers shared by the benchmarks: best-of runs, medians, and a ratio table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder
from dataflow.workflow import Workflow


async def best_of(runs: int, setup: Callable[[], Awaitable[None]], action: Callable[[], Awaitable[None]]) -> float:
    """The fastest of ``runs`` timings of ``action``, each after a fresh ``setup``."""
    timings = []
    for _ in range(runs):
        await setup()
        started = time.perf_counter()
        await action()
        timings.append(time.perf_counter() - started)
    return min(timings)


async def interleaved_medians(count: int, *actions: Callable[[], Awaitable[object]]) -> list[float]:
    """Median seconds of each action, calling them in turn so that they share the machine's noise.

    The order rotates every round: a call that follows another one pays for
    what that one left behind (a server process still busy, a reset in
    flight), and no action should always be the one that pays.
    """
    for action in actions:
        await median_latency(50, action)
    timings: list[list[float]] = [[] for _ in actions]
    for round_number in range(count):
        for step in range(len(actions)):
            index = (round_number + step) % len(actions)
            started = time.perf_counter()
            await actions[index]()
            timings[index].append(time.perf_counter() - started)
    return [statistics.median(samples) for samples in timings]


async def median_latency(count: int, action: Callable[[], Awaitable[object]]) -> float:
    """Median seconds of ``count`` sequential calls of ``action`` (after a short warm-up)."""
    for _ in range(min(50, count)):
        await action()
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        await action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def report(title: str, rows: list[tuple[str, float, float, str]]) -> None:
    """Print ``(what, dataflow, raw, kind)`` rows; kind "throughput" or "latency" sets the ratio's direction."""
    print(f"\n{title}")
    print(f"{'benchmark':<44} {'DataFlow':>12} {'raw':>12} {'ratio':>8}")
    for what, ours, raw, kind in rows:
        if kind == "throughput":
            ratio = raw / ours  # time ratio inverted: >= 1 means as fast as raw
            print(
                f"{what:<44} {ours * 1000:>10.1f}ms {raw * 1000:>10.1f}ms {ratio:>7.2f}x  (speed vs raw, target >= 0.8)"
            )
        else:
            ratio = ours / raw
            print(f"{what:<44} {ours * 1e6:>10.0f}us {raw * 1e6:>10.0f}us {ratio:>7.2f}x  (time vs raw)")


def report_targets(title: str, figures: list[tuple[str, list[tuple[float, float]], str, float | None]]) -> None:
    """Print ``(what, [(dataflow, reference), ...], reference name, target)`` as time ratios against their targets.

    Each figure was measured in several rounds: the median round's ratio is
    printed with the range over the rounds; a target of None is a figure shown
    for comparison only.
    """
    print(f"\n{title}")
    print(f"{'figure':<46} {'DataFlow':>10} {'reference':>10} {'ratio':>6} {'range':>11}  target")
    for what, rounds, reference, target in figures:
        ratios = sorted(ours / ref for ours, ref in rounds)
        ours, ref = sorted(rounds, key=lambda pair: pair[0] / pair[1])[len(rounds) // 2]
        ratio = ours / ref
        spread = f"{ratios[0]:.2f}-{ratios[-1]:.2f}"
        verdict = "" if target is None else f"<= {target:.2f}x {reference}: " + ("ok" if ratio <= target else "MISSED")
        if target is None:
            verdict = f"(vs {reference}, no target)"
        print(f"{what:<46} {_duration(ours):>10} {_duration(ref):>10} {ratio:>5.2f}x {spread:>11}  {verdict}")


def _duration(seconds: float) -> str:
    return f"{seconds * 1e6:.0f}us" if seconds < 0.01 else f"{seconds * 1000:.1f}ms"


def rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    """The benchmark data: five columns, the first one unique."""
    return [
        {"sku": f"sku-{i}", "name": f"item {i}", "qty": i % 100, "price": i * 0.5, "active": i % 2 == 0}
        for i in range(start, start + n)
    ]


def define(db: DataFlow) -> None:
    """The benchmark model, matching the raw tables of each script."""

    @db.model
    class Item:
        sku: str
        name: str
        qty: int
        price: float
        active: bool
        __dataflow__ = {"unique": [("sku",)]}


def node(db: DataFlow, name: str, params: dict[str, Any]) -> WorkflowBuilder:
    """A one-node workflow of ``db.nodes[name]`` with id ``n``."""
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes[name], "n", params)
    return workflow


def checked_run(
    runtime: AsyncLocalRuntime, workflow: Workflow, expected: dict[str, Any]
) -> Callable[[], Awaitable[None]]:
    """An action that runs ``workflow`` and checks that its node ``n`` gave ``expected`` (the counts)."""

    async def action() -> None:
        outcome, _ = await runtime.execute_async(workflow)
        assert outcome["n"] == expected, outcome

    return action
