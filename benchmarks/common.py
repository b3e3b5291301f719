"""Timing helpers shared by the benchmarks: best-of runs, medians, and a ratio table."""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from operator import itemgetter
from types import ModuleType
from typing import Any

from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder
from dataflow.plugins import plugin_host
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


async def interleaved_best(
    runs: int, *sides: tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]
) -> list[float]:
    """The fastest of ``runs`` timings of each ``(setup, action)`` side, the sides taking turns.

    Taking turns round by round lets every side meet the same background load
    (other processes on the machine and the database server); a side timed
    only after another would meet a different machine.
    """
    timings: list[list[float]] = [[] for _ in sides]
    for _ in range(runs):
        for index, (setup, action) in enumerate(sides):
            await setup()
            started = time.perf_counter()
            await action()
            timings[index].append(time.perf_counter() - started)
    return [min(samples) for samples in timings]


async def interleaved_rounds(
    runs: int, *sides: tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]
) -> list[list[tuple[float, float]]]:
    """Every ``(wall seconds, process CPU seconds)`` timing of each ``(setup, action)`` side, ``runs`` rounds.

    The sides take turns, and the order reverses every round, so that no side
    always follows the same one. The CPU time counts every thread of this
    process (an SQLite connection's thread too): for work that never waits on
    another process it is the figure a shared machine disturbs least.
    """
    timings: list[list[tuple[float, float]]] = [[] for _ in sides]
    for round_number in range(runs):
        order = list(enumerate(sides))
        for index, (setup, action) in order if round_number % 2 == 0 else reversed(order):
            await setup()
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            await action()
            timings[index].append((time.perf_counter() - wall, time.process_time() - cpu))
    return timings


def round_ratios(ours: list[tuple[float, float]], raw: list[tuple[float, float]]) -> str:
    """The spread of the per-round speed ratios (raw time / ours, paired by round) and the median CPU ratio."""
    ratios = sorted(r[0] / o[0] for o, r in zip(ours, raw, strict=True))
    cpu = statistics.median(r[1] for r in raw) / statistics.median(o[1] for o in ours)
    return (
        f"median of {len(ratios)} rounds; per-round ratios {ratios[0]:.2f}-{ratios[-1]:.2f}, "
        f"median per-round {statistics.median(ratios):.2f}; CPU time ratio {cpu:.2f}"
    )


def medians(samples: list[tuple[float, float]]) -> float:
    """The median wall time of ``interleaved_rounds`` samples."""
    return statistics.median(wall for wall, _ in samples)


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


Row = tuple[str, float, float, str] | tuple[str, float, float, str, float | None]
"""``(what, dataflow, raw, kind)`` or ``(what, dataflow, raw, kind, target)``; kind "throughput" or "latency"."""


def report(title: str, rows: list[Row]) -> None:
    """Print the rows; kind sets the ratio's direction, and a row's target (if any) is checked against it.

    Throughput ratios are speed vs raw (>= target is met), latency ratios time vs raw (<= target is met).
    """
    print(f"\n{title}")
    print(f"{'benchmark':<50} {'DataFlow':>12} {'raw':>12} {'ratio':>8}")
    for row in rows:
        what, ours, raw, kind = row[:4]
        target = row[4] if len(row) > 4 else None  # type: ignore[misc]
        if kind == "throughput":
            ratio = raw / ours  # time ratio inverted: >= 1 means as fast as raw
            verdict = "" if target is None else f"target >= {target:.2f}: " + ("ok" if ratio >= target else "MISSED")
            print(f"{what:<50} {ours * 1000:>10.1f}ms {raw * 1000:>10.1f}ms {ratio:>7.2f}x  speed vs raw {verdict}")
        else:
            ratio = ours / raw
            verdict = "" if target is None else f"target <= {target:.2f}: " + ("ok" if ratio <= target else "MISSED")
            print(f"{what:<50} {ours * 1e6:>10.0f}us {raw * 1e6:>10.0f}us {ratio:>7.2f}x  time vs raw {verdict}")


def as_tuples(data: list[dict[str, Any]], columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The raw side's parameter rows, built from the same dicts DataFlow gets (inside the raw side's timing)."""
    getter = itemgetter(*columns)
    return list(map(getter, data))


async def peak_memory(
    title: str,
    count: int,
    setup: Callable[[], Awaitable[None]],
    action: Callable[[list[dict[str, Any]]], Awaitable[None]],
) -> None:
    """Print the peak memory ``action(data)`` allocates for ``count`` benchmark rows, against the rows themselves.

    tracemalloc sees every Python allocation: the input list's size is what
    building it allocated; the bulk write's is its peak above what was
    allocated before it started (so the input is not counted twice).
    """
    await setup()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        data = rows(count)
        input_size = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        await action(data)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    ratio = peak / input_size
    verdict = "ok" if ratio < 1.5 else "MISSED"
    print(
        f"\n{title}: {count:,} rows, input list {input_size / 2**20:.0f} MiB, BulkCreate peak "
        f"{peak / 2**20:.0f} MiB above it = {ratio:.2f}x the input (target < 1.5: {verdict})"
    )


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


def without_plugin(url: str, name: str, plugin: ModuleType) -> DataFlow:
    """A DataFlow made while the plugin registered as ``name`` (module ``plugin``) is unregistered, then put back."""
    host = plugin_host()
    host.load()
    host.unregister(name)
    try:
        return DataFlow(url)
    finally:
        host.register(plugin, name)


def checked_run(
    runtime: AsyncLocalRuntime, workflow: Workflow, expected: dict[str, Any]
) -> Callable[[], Awaitable[None]]:
    """An action that runs ``workflow`` and checks that its node ``n`` gave ``expected`` (the counts)."""

    async def action() -> None:
        outcome, _ = await runtime.execute_async(workflow)
        assert outcome["n"] == expected, outcome

    return action


def monitors_line(db: DataFlow) -> str:
    """Which monitor plugins DataFlow's side carries: each adds its per-statement events to that side's time."""
    names = sorted({type(monitor).__module__.split(".")[0] for monitor in db.monitors})
    loaded = ", ".join(names) if names else "none"
    return f"monitors on DataFlow's side: {loaded} (DATAFLOW_PLUGINS=core,<dialect> measures without them)"
