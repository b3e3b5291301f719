"""The cost of dataflow-monitor: the same workflows on an instance with the monitor and one without, one run.

python benchmarks/bench_monitor.py [--url sqlite:///...|postgresql://...|mysql://...] [--rows 100000] [--reads 2000]

The instance without the monitor is created while the ``monitor`` plugin is
unregistered (the core makes events only for instances that have monitors).
On SQLite each instance has a file of its own; with ``--url`` both share the
database and its table. Measurements alternate between the two, so drift on
the machine hits both alike; the monitor's own time is also measured inside
the run, which no other load on the machine can blur. Targets (issue 8): a
one-node ReadNode workflow <= 10% slower, BulkCreate of 100,000 rows <= 3%.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import define, median_latency, node, rows

from dataflow import AsyncLocalRuntime, DataFlow
from dataflow.plugins import plugin_host


def without_monitor(url: str) -> DataFlow:
    host = plugin_host()
    host.load()
    plugin = host.manager.get_plugin("monitor")
    if plugin is None:
        raise SystemExit("dataflow-monitor is not installed (or is disabled): nothing to compare")
    host.unregister("monitor")
    try:
        return DataFlow(url)
    finally:
        host.register(plugin, "monitor")


class Timed:
    """A monitor wrapped to add up the time its ``handle`` takes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.events = 0
        self.seconds = 0.0

    def handle(self, event: Any) -> None:
        started = time.perf_counter()
        self.inner.handle(event)
        self.seconds += time.perf_counter() - started
        self.events += 1


async def bench(url: str, plain_url: str, rows_count: int, reads: int, rounds: int) -> None:
    from dataflow_monitor import Monitor  # noqa: PLC0415 - dataflow-monitor is optional in the bench env; only this benchmark needs it

    monitored, plain = DataFlow(url), without_monitor(plain_url)
    assert hasattr(monitored, "monitor") and not hasattr(plain, "monitor")
    both = (monitored, plain)
    for db in both:
        define(db)
        await db.create_tables_async()
    runtime = AsyncLocalRuntime()
    data = rows(rows_count)
    clear = {db: node(db, "ItemBulkDeleteNode", {"filter": {}, "confirmed": True}).build() for db in both}
    create = {db: node(db, "ItemBulkCreateNode", {"data": data}).build() for db in both}

    async def bulk(db: DataFlow) -> float:
        await runtime.execute_async(clear[db])
        started = time.perf_counter()
        await runtime.execute_async(create[db])
        return time.perf_counter() - started

    def alternating(index: int) -> tuple[DataFlow, DataFlow]:
        return (plain, monitored) if index % 2 else (monitored, plain)

    bulk_times: dict[DataFlow, list[float]] = {db: [] for db in both}
    for index in range(rounds):
        for db in alternating(index):
            bulk_times[db].append(await bulk(db))

    read = {}
    for db in both:
        first, _ = await runtime.execute_async(node(db, "ItemListNode", {"limit": 1, "order_by": ["id"]}).build())
        read[db] = node(db, "ItemReadNode", {"id": first["n"]["records"][0]["id"]}).build()
    for db in both:
        await median_latency(50, lambda db=db: runtime.execute_async(read[db]))  # warm up
    # One read of each per step, in alternating order: drift on a busy machine hits both alike.
    read_times: dict[DataFlow, list[float]] = {db: [] for db in both}
    for index in range(reads):
        for db in alternating(index):
            started = time.perf_counter()
            await runtime.execute_async(read[db])
            read_times[db].append(time.perf_counter() - started)

    print(f"\ndataflow-monitor overhead on {monitored.dialect.name} ({rounds} bulk rounds, reads interleaved)")
    print(f"{'benchmark':<44} {'without':>12} {'with':>12} {'overhead':>9}  target")
    bulk_plain, bulk_with = min(bulk_times[plain]), min(bulk_times[monitored])
    read_plain, read_with = statistics.median(read_times[plain]), statistics.median(read_times[monitored])
    print(f"{f'BulkCreate {rows_count:,} rows (best)':<44} {bulk_plain * 1000:>10.1f}ms {bulk_with * 1000:>10.1f}ms "
          f"{(bulk_with / bulk_plain - 1) * 100:>8.1f}%  <= 3%")  # fmt: skip
    print(f"{f'ReadNode workflow (median of {reads:,})':<44} {read_plain * 1e6:>10.0f}us {read_with * 1e6:>10.0f}us "
          f"{(read_with / read_plain - 1) * 100:>8.1f}%  <= 10%")  # fmt: skip

    # The monitor's own time: measured inside the run, so other load on the machine cannot blur it; the
    # core's cost of making the events (paid only by instances with monitors) is not in it.
    timed = [Timed(m) for m in monitored.monitors if isinstance(m, Monitor)]
    monitored.monitors[:] = [*timed, *(m for m in monitored.monitors if not isinstance(m, Monitor))]
    for _ in range(reads):
        await runtime.execute_async(read[monitored])
    read_events, read_seconds = sum(t.events for t in timed), sum(t.seconds for t in timed)
    for t in timed:
        t.events, t.seconds = 0, 0.0
    await bulk(monitored)
    bulk_events, bulk_seconds = sum(t.events for t in timed), sum(t.seconds for t in timed)
    print(
        f"the monitor's own time: {read_seconds / reads * 1e6:.1f} us per ReadNode workflow ({read_events / reads:.0f}"
        f" events, {read_seconds / reads / read_plain * 100:.1f}% of it); {bulk_seconds * 1000:.2f} ms per "
        f"BulkCreate ({bulk_events} events, {bulk_seconds / bulk_plain * 100:.3f}% of it)"
    )
    await monitored.close_async()
    await plain.close_async()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="database URL (default: SQLite files in a temporary directory)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.url or f"sqlite:///{directory}/monitored.db"
        plain_url = args.url or f"sqlite:///{directory}/plain.db"
        asyncio.run(bench(url, plain_url, args.rows, args.reads, args.rounds))


if __name__ == "__main__":
    main()
