"""Read replicas: where a read-heavy load's statements go, what a routed read costs, what routing costs.

python benchmarks/bench_replicas.py [--operations 3000] [--clients 8] [--reads 2000]

Starts its own PostgreSQL primary with two streaming replicas in a temp dir
(:mod:`dataflow.testing.replication`; the shared servers are not touched) and
measures, with ``pg_stat_statements`` on each server:

- a mixed load of 90% reads (by primary key) and 10% writes from concurrent
  clients, each operation its own caller context (many users): the statements
  on the benchmark table that each server ran. The primary's share should
  fall to about the write share.
- the median latency of one read routed to a replica against the same read on
  a DataFlow without replicas, reading the primary (target: at most 1.10x).
- the routing decision per node (``RunRoute.wants_replica`` and the choice of
  a replica), in microseconds (target: under 5 µs).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
from common import interleaved_medians

from dataflow import DataFlow
from dataflow.routing import RunRoute, caller_context
from dataflow.testing.replication import start_postgres_pair

COUNTED = "%bench_replica_item%"


def define(db: DataFlow) -> None:
    @db.model
    class Item:
        sku: str
        qty: int
        __dataflow__ = {"table": "bench_replica_item"}


async def statements(url: str) -> int:
    """Calls of statements on the benchmark table that the server at ``url`` ran since the last reset."""
    connection = await asyncpg.connect(url)
    try:
        value = await connection.fetchval(
            "SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements WHERE query ILIKE $1", COUNTED
        )
        return int(value)
    finally:
        await connection.close()


async def reset(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SELECT pg_stat_statements_reset()")
    finally:
        await connection.close()


async def mixed_load(db: DataFlow, ids: list[int], operations: int, clients: int) -> tuple[int, int]:
    """(reads, writes) done by ``clients`` concurrent clients, 90% reads."""
    done = {"reads": 0, "writes": 0}
    rng = random.Random(17)
    plan = ["write" if rng.random() < 0.1 else "read" for _ in range(operations)]

    async def client(share: list[str]) -> None:
        for kind in share:
            with caller_context():  # each operation a different user
                if kind == "write":
                    await db.express.update("Item", rng.choice(ids), {"qty": rng.randint(0, 100)})
                    done["writes"] += 1
                else:
                    await db.express.read("Item", rng.choice(ids))
                    done["reads"] += 1

    await asyncio.gather(*(client(plan[i::clients]) for i in range(clients)))
    return done["reads"], done["writes"]


def routing_cost(db: DataFlow, count: int = 200_000) -> tuple[float, float]:
    """Microseconds per routing decision, and per replica choice."""
    node_class = db.nodes["ItemReadNode"]
    inputs = {"id": 1}
    assert db.replicas is not None
    with caller_context():
        route = RunRoute()
        started = time.perf_counter()
        for _ in range(count):
            route.wants_replica(db, node_class, inputs, None)
        decide = (time.perf_counter() - started) / count * 1e6
        started = time.perf_counter()
        for _ in range(count):
            db.replicas.candidates()
        choose = (time.perf_counter() - started) / count * 1e6
    return decide, choose


async def main(args: argparse.Namespace) -> None:
    pair = start_postgres_pair(Path(tempfile.mkdtemp(prefix="dataflow_bench_replicas_")))
    try:
        second = pair.add_replica("replica2")
        await (await asyncpg.connect(pair.primary_url)).execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        servers = {"primary": pair.primary_url, "replica 1": pair.replica_url, "replica 2": second}
        routed = DataFlow(pair.primary_url, replicas=[pair.replica_url, second], max_replica_lag=30)
        direct = DataFlow(pair.primary_url)
        for db in (routed, direct):
            define(db)
        created = await routed.express.bulk_create(
            "Item", [{"sku": f"s{i}", "qty": i} for i in range(1000)], return_ids=True
        )
        ids = list(created["ids"])
        await asyncio.sleep(1.0)  # let both replicas replay the rows
        await routed.express.read("Item", ids[0], replica=False)  # the primary checks the schema once
        for url in servers.values():
            await reset(url)
        reads, writes = await mixed_load(routed, ids, args.operations, args.clients)
        counts = {name: await statements(url) for name, url in servers.items()}
        total = sum(counts.values())
        print(f"\nmixed load: {reads} reads, {writes} writes ({writes / (reads + writes):.0%} writes), "
              f"{args.clients} clients")  # fmt: skip
        print(f"{'server':<12} {'statements':>11} {'share':>7}")
        for name, value in counts.items():
            print(f"{name:<12} {value:>11} {value / total:>7.1%}")

        target = ids[len(ids) // 2]

        async def replica_read() -> None:
            with caller_context():
                await routed.express.read("Item", target)

        async def primary_read() -> None:
            with caller_context():
                await direct.express.read("Item", target)

        raw_primary = await asyncpg.connect(pair.primary_url)
        raw_replica = await asyncpg.connect(pair.replica_url)
        sql = "SELECT id, sku, qty FROM bench_replica_item WHERE id = $1"

        async def raw_primary_read() -> None:
            await raw_primary.fetchrow(sql, target)

        async def raw_replica_read() -> None:
            await raw_replica.fetchrow(sql, target)

        rounds = [
            await interleaved_medians(args.reads // 5, replica_read, primary_read, raw_replica_read, raw_primary_read)
            for _ in range(5)
        ]
        ours, base, raw_r, raw_p = (statistics.median(r[i] for r in rounds) for i in range(4))
        print(
            f"\nper read (median): routed to a replica {ours * 1e6:.0f}us, primary without replicas "
            f"{base * 1e6:.0f}us: ratio {ours / base:.2f}x (target <= 1.10)"
        )
        print(f"raw asyncpg, same statement: replica {raw_r * 1e6:.0f}us, primary {raw_p * 1e6:.0f}us "
              f"(the servers' own difference: {raw_r / raw_p:.2f}x); DataFlow over raw: routed "
              f"+{(ours - raw_r) * 1e6:.0f}us, direct +{(base - raw_p) * 1e6:.0f}us")  # fmt: skip
        await raw_primary.close()
        await raw_replica.close()
        decide, choose = routing_cost(routed)
        print(f"routing per node: decision {decide:.2f}us + replica choice {choose:.2f}us = "
              f"{decide + choose:.2f}us (target < 5us)")  # fmt: skip
        await routed.close_async()
        await direct.close_async()
    finally:
        pair.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operations", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--reads", type=int, default=2000)
    asyncio.run(main(parser.parse_args()))
