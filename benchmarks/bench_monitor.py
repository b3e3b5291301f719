"""The cost of dataflow-monitor: the same workflows on an instance with the monitor and one without, one run.

python benchmarks/bench_monitor.py [--url sqlite:///...|postgresql://...|mysql://...] [--rows 100000] [--reads 2000]

Both instances use the same database and tables; the one without the monitor
is created while the ``monitor`` plugin is unregistered (the core only emits
events to instances that have monitors). Measurements alternate between the
two, so drift on the machine hits both alike. Targets (issue 8): a one-node
ReadNode workflow <= 10% slower, BulkCreate of 100,000 rows <= 3%.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median_latency

from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder
from dataflow.plugins import plugin_host


def define(db: DataFlow) -> None:
    @db.model
    class Item:
        sku: str
        name: str
        qty: int
        price: float
        active: bool

    del Item


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


def rows(n: int) -> list[dict[str, object]]:
    return [{"sku": f"sku-{i}", "name": f"item {i}", "qty": i % 100, "price": i * 0.5, "active": i % 2 == 0}
            for i in range(n)]  # fmt: skip


def node(db: DataFlow, name: str, params: dict[str, object]) -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes[name], "n", params)
    return workflow


async def bench(url: str, rows_count: int, reads: int, rounds: int) -> None:
    monitored, plain = DataFlow(url), without_monitor(url)
    assert hasattr(monitored, "monitor") and not hasattr(plain, "monitor")
    for db in (monitored, plain):
        define(db)
        await db.create_tables_async()
    runtime = AsyncLocalRuntime()
    data = rows(rows_count)
    clear = {db: node(db, "ItemBulkDeleteNode", {"filter": {}, "confirmed": True}).build() for db in (monitored, plain)}
    create = {db: node(db, "ItemBulkCreateNode", {"data": data}).build() for db in (monitored, plain)}

    async def bulk(db: DataFlow) -> float:
        await runtime.execute_async(clear[db])
        started = time.perf_counter()
        await runtime.execute_async(create[db])
        return time.perf_counter() - started

    bulk_times: dict[DataFlow, list[float]] = {monitored: [], plain: []}
    for _ in range(rounds):
        for db in (plain, monitored):
            bulk_times[db].append(await bulk(db))

    first = (await runtime.execute_async(node(monitored, "ItemListNode", {"limit": 1, "order_by": ["id"]}).build()))[0]
    key = first["n"]["records"][0]["id"]
    read = {db: node(db, "ItemReadNode", {"id": key}).build() for db in (monitored, plain)}
    read_times: dict[DataFlow, list[float]] = {monitored: [], plain: []}
    for _ in range(rounds):
        for db in (plain, monitored):
            read_times[db].append(await median_latency(reads // rounds, lambda db=db: runtime.execute_async(read[db])))

    print(f"\ndataflow-monitor overhead on {monitored.dialect.name} ({rounds} alternating rounds)")
    print(f"{'benchmark':<44} {'without':>12} {'with':>12} {'overhead':>9}  target")
    bulk_plain, bulk_with = min(bulk_times[plain]), min(bulk_times[monitored])
    read_plain, read_with = statistics.median(read_times[plain]), statistics.median(read_times[monitored])
    print(f"{f'BulkCreate {rows_count:,} rows (best)':<44} {bulk_plain * 1000:>10.1f}ms {bulk_with * 1000:>10.1f}ms "
          f"{(bulk_with / bulk_plain - 1) * 100:>8.1f}%  <= 3%")  # fmt: skip
    print(f"{f'ReadNode workflow (median of {reads:,})':<44} {read_plain * 1e6:>10.0f}us {read_with * 1e6:>10.0f}us "
          f"{(read_with / read_plain - 1) * 100:>8.1f}%  <= 10%")  # fmt: skip
    snapshot = monitored.monitor.snapshot(top=3)  # type: ignore[attr-defined]
    print(f"monitored statements: {snapshot['statements']['total']:,}")
    await monitored.close_async()
    await plain.close_async()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="database URL (default: an SQLite file in a temporary directory)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.url or f"sqlite:///{directory}/monitor.db"
        asyncio.run(bench(url, args.rows, args.reads, args.rounds))


if __name__ == "__main__":
    main()
