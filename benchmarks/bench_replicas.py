"""Read replicas: where a read-heavy load's statements go, what a read costs under that load, what routing costs.

python benchmarks/bench_replicas.py [--operations 1500] [--clients 6] [--rounds 11] [--routing-only]

Starts its own PostgreSQL primary with two streaming replicas in a temp dir
(:mod:`dataflow.testing.replication`; the shared servers are not touched) and
measures, with ``pg_stat_statements`` on each server:

- a mixed load of 90% reads (by primary key) and 10% writes from
  ``--clients`` concurrent tasks, each operation its own caller context (many
  users), in interleaved rounds on five sides: DataFlow with the two
  replicas (round robin, and least busy), DataFlow on the primary alone, and raw asyncpg on held
  connections the same two ways (reads on the replicas in turn, or on the
  primary; writes on the primary). Printed: the statements on the benchmark table that each server
  ran during the replica rounds (the primary's share should fall to about
  the write share) and the primary's position reads for read-your-writes,
  and the median latency of one read *inside that load*
  on each side (target: routed at most 1.10x the primary-only DataFlow).
  Beside DataFlow's replica/primary ratio of each round stands the raw
  driver's of the same round (what the servers differ by on this machine)
  and their quotient, DataFlow's own share.
- the same reads one at a time with no other load, the same way; then this
  process's CPU per read on each path (client-side cost alone, steady however
  busy the servers are).
- the routing decision per node, alone (no I/O): whether the node may read
  on a replica, the caller's read-your-writes mark, the replica's order and
  whether what is known of it will do; in microseconds (target: under 5 µs).
  ``--routing-only`` measures just this, with no server.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import itertools
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from time import monotonic
from typing import Any

import asyncpg
from common import interleaved_medians
from replica_report import print_ratios, print_replica_cost, print_routing, spread

from dataflow import DataFlow
from dataflow.routing import RunRoute, caller_context
from dataflow.testing.replication import start_postgres_pair

COUNTED = "%bench_replica_item%"
POSITIONS = "%pg_current_wal_insert_lsn%"
"""Read-your-writes' reads of the primary's position, counted beside the benchmark table's statements."""
SQL_READ = "SELECT id, sku, qty FROM bench_replica_item WHERE id = $1"
SQL_WRITE = "UPDATE bench_replica_item SET qty = $2 WHERE id = $1 RETURNING id, sku, qty"


def define(db: DataFlow) -> None:
    @db.model
    class Item:
        sku: str
        qty: int
        __dataflow__ = {"table": "bench_replica_item"}


async def statements(url: str, pattern: str = COUNTED) -> int:
    """Calls of statements matching ``pattern`` (the benchmark table's) that the server at ``url`` has run."""
    connection = await asyncpg.connect(url)
    try:
        value = await connection.fetchval(
            "SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements WHERE query ILIKE $1", pattern
        )
        return int(value)
    finally:
        await connection.close()


Operation = Callable[[int], Awaitable[object]]


class Held:
    """The raw side: asyncpg connections opened once and taken in turn (no pool, no reset round trip)."""

    def __init__(self, connections: list[asyncpg.Connection]) -> None:
        self.free: asyncio.Queue[asyncpg.Connection] = asyncio.Queue()
        for connection in connections:
            self.free.put_nowait(connection)
        self.connections = connections

    @classmethod
    async def open(cls, url: str, count: int) -> Held:
        return cls([await asyncpg.connect(url) for _ in range(count)])

    async def fetchrow(self, sql: str, *args: object) -> object:
        connection = await self.free.get()
        try:
            return await connection.fetchrow(sql, *args)
        finally:
            self.free.put_nowait(connection)

    async def close(self) -> None:
        for connection in self.connections:
            await connection.close()


async def mixed_load(read: Operation, write: Operation, ids: list[int], operations: int, clients: int,
                     seed: int) -> tuple[list[float], int]:  # fmt: skip
    """Seconds of every read, and the writes done, by ``clients`` concurrent tasks running 90% reads."""
    rng = random.Random(seed)
    plan = [("write" if rng.random() < 0.1 else "read", rng.choice(ids)) for _ in range(operations)]
    latencies: list[float] = []
    writes = 0

    async def client(share: list[tuple[str, int]]) -> None:
        nonlocal writes
        for kind, key in share:
            with caller_context():  # each operation a different user
                if kind == "write":
                    await write(key)
                    writes += 1
                else:
                    started = time.perf_counter()
                    await read(key)
                    latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client(plan[i::clients]) for i in range(clients)))
    return latencies, writes


def routing_cost(db: DataFlow, least_busy: DataFlow, count: int = 100_000, rounds: int = 7) -> dict[str, list[float]]:
    """Microseconds per routing decision of one Read node, per round: with no recent write, after one, least busy."""
    results = _routing_cost(db, count, rounds)
    results["least_busy, no recent write"] = _routing_cost(least_busy, count, rounds)["no recent write"]
    return results


def _routing_cost(db: DataFlow, count: int, rounds: int) -> dict[str, list[float]]:
    node_class = db.nodes["ItemReadNode"]
    inputs = {"id": 1}
    replicas = db.replicas
    assert replicas is not None
    probe = replicas.probe

    def decide(route: RunRoute) -> None:
        # What routing does for a read before any I/O: RunRoute.wants_replica, then the
        # replica choice of RunRoute.on_replica / ReplicaSet.open_session.
        if route.wants_replica(db, node_class, inputs, None):
            needs = route.marks.needs(replicas)
            for replica in replicas.candidates():
                if replicas.known_fresh(replica, needs):
                    break

    def timed(route: RunRoute) -> float:
        for replica in replicas.replicas:  # caught up, lag read just now: no round trip is due
            replica.lag, replica.lag_checked, replica.replayed = 0.0, monotonic(), "0/2000"
        started = time.perf_counter()
        for _ in range(count):
            decide(route)
        return (time.perf_counter() - started) / count * 1e6

    results: dict[str, list[float]] = {"no recent write": [], "after a write (position covered)": []}
    for _ in range(rounds):
        with caller_context():
            results["no recent write"].append(timed(RunRoute()))
        with caller_context() as marks:
            marks.wrote(replicas, "0/1000", 60.0)
            assert probe.covers("0/2000", "0/1000")
            results["after a write (position covered)"].append(timed(RunRoute()))
    return results


Sides = dict[str, tuple[Operation, Operation]]
Snapshot = Callable[[], Awaitable[dict[Any, int]]]


def dataflow_side(db: DataFlow) -> tuple[Operation, Operation]:
    """Reads and writes of one benchmark record through DataFlow's direct API (routed as ``db`` routes)."""

    async def read(key: int) -> object:
        return await db.express.read("Item", key)

    async def write(key: int) -> object:
        return await db.express.update("Item", key, {"qty": key % 100})

    return read, write


@dataclasses.dataclass
class Rounds:
    """What interleaved rounds of the mixed load measured, per side; server counters of ``counted`` rounds only."""

    medians: dict[str, list[float]]
    cpu_per_operation: dict[str, list[float]]
    counted: dict[Any, int]
    reads: int = 0
    writes: int = 0


async def run_rounds(
    sides: Sides, ids: list[int], args: argparse.Namespace, counted: str, snapshot: Snapshot
) -> Rounds:
    """Warm every side, then ``args.rounds`` rounds of the mixed load, each side leading in turn.

    ``snapshot`` reads the servers' counters; what changed during the rounds of
    side ``counted`` is summed.
    """
    for read, write in sides.values():  # warm every pool and statement cache
        await mixed_load(read, write, ids, args.clients * 20, args.clients, seed=0)
    result = Rounds({name: [] for name in sides}, {name: [] for name in sides}, {})
    for number in range(args.rounds):
        names = list(sides)
        names = names[number % len(names) :] + names[: number % len(names)]  # each side leads in turn
        for name in names:
            read, write = sides[name]
            before = await snapshot() if name == counted else {}
            cpu = time.process_time()
            latencies, wrote = await mixed_load(read, write, ids, args.operations, args.clients, seed=number + 1)
            result.cpu_per_operation[name].append((time.process_time() - cpu) / args.operations)
            result.medians[name].append(statistics.median(latencies))
            if name == counted:
                for key, value in (await snapshot()).items():
                    result.counted[key] = result.counted.get(key, 0) + value - before[key]
                result.reads, result.writes = result.reads + len(latencies), result.writes + wrote
    return result


async def cpu_per_read(sides: dict[str, tuple[Operation, Operation]], key: int, rounds: int, count: int = 500
                       ) -> dict[str, list[float]]:  # fmt: skip
    """This process's CPU seconds per read, one read at a time, per round; the sides take turns leading.

    CPU time leaves out the wait for the server, so it shows what the client
    side of each path costs however busy the machine's other processes are.
    """
    result: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for number in range(rounds):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            read = sides[name][0]
            started = time.process_time()
            for _ in range(count):
                with caller_context():
                    await read(key)
            result[name].append((time.process_time() - started) / count)
    return result


REPLICA_PAIRS = (
    ("replicas / primary only (DataFlow)", "replicas", "primary only"),
    ("least_busy / primary only (DataFlow)", "replicas, least_busy", "primary only"),
)
"""Each replica-cost figure: its label, and the two sides whose ratio it prints."""
RAW_PAIR = ("raw, replicas", "raw, primary")
"""The raw driver's two sides of the same rounds, printed beside each figure."""


async def alone(sides: dict[str, tuple[Operation, Operation]], key: int, rounds: int) -> None:
    """One read at a time, no other load: what each side costs by itself (interleaved, median per round)."""
    reads = [functools.partial(read, key) for read, _ in sides.values()]
    per_round = [await interleaved_medians(400, *reads) for _ in range(rounds)]
    medians = {name: [r[i] for r in per_round] for i, name in enumerate(sides)}
    print("\nper read alone, no concurrent load (median of round medians, min-max of rounds):")
    for name, values in medians.items():
        print(f"  {name:<22} {spread(values)}")
    print_replica_cost(medians, REPLICA_PAIRS, RAW_PAIR)
    cpu = await cpu_per_read(sides, key, rounds)
    print("\nthis process's CPU per read, one at a time (median of rounds, min-max): what each path costs the client")
    for name, values in cpu.items():
        print(f"  {name:<22} {spread(values)}")
    print_ratios(
        cpu,
        (
            ("replicas / primary only (DataFlow CPU)", "replicas", "primary only", ""),
            ("least_busy / primary only (DataFlow CPU)", "replicas, least_busy", "primary only", ""),
            ("raw replicas / raw primary (CPU)", "raw, replicas", "raw, primary", ""),
        ),
    )


async def main(args: argparse.Namespace) -> None:
    if args.routing_only:
        replicas = ["127.0.0.1:2", "127.0.0.1:3"]
        db = DataFlow("postgresql://bench@127.0.0.1:1/bench", replicas=replicas)
        least = DataFlow("postgresql://bench@127.0.0.1:1/bench", replicas=replicas, replica_routing="least_busy")
        for each in (db, least):
            define(each)
        print_routing(routing_cost(db, least))
        return
    pair = start_postgres_pair(Path(tempfile.mkdtemp(prefix="dataflow_bench_replicas_")))
    try:
        second = pair.add_replica("replica2")
        setup = await asyncpg.connect(pair.primary_url)
        await setup.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await setup.close()
        servers = {"primary": pair.primary_url, "replica 1": pair.replica_url, "replica 2": second}
        routed = DataFlow(pair.primary_url, replicas=[pair.replica_url, second], max_replica_lag=30)
        busy = DataFlow(pair.primary_url, replicas=[pair.replica_url, second], max_replica_lag=30,
                        replica_routing="least_busy")  # fmt: skip
        direct = DataFlow(pair.primary_url)
        for db in (routed, busy, direct):
            define(db)
        created = await routed.express.bulk_create(
            "Item", [{"sku": f"s{i}", "qty": i} for i in range(1000)], return_ids=True
        )
        ids = list(created["ids"])
        await asyncio.sleep(1.0)  # let both replicas replay the rows
        await routed.express.read("Item", ids[0], replica=False)  # the primary checks the schema once
        await direct.express.read("Item", ids[0])
        await busy.express.read("Item", ids[0], replica=False)
        raw = {name: await Held.open(url, args.clients) for name, url in servers.items()}

        def raw_side(readers: list[Held]) -> tuple[Operation, Operation]:
            turn = itertools.cycle(readers)

            async def read(key: int) -> object:
                return await next(turn).fetchrow(SQL_READ, key)

            async def write(key: int) -> object:
                return await raw["primary"].fetchrow(SQL_WRITE, key, key % 100)

            return read, write

        sides = {
            "replicas": dataflow_side(routed),
            "replicas, least_busy": dataflow_side(busy),
            "primary only": dataflow_side(direct),
            "raw, replicas": raw_side([raw["replica 1"], raw["replica 2"]]),
            "raw, primary": raw_side([raw["primary"]]),
        }

        async def snapshot() -> dict[Any, int]:
            counts: dict[Any, int] = {server: await statements(url) for server, url in servers.items()}
            counts[POSITIONS] = await statements(pair.primary_url, POSITIONS)
            return counts

        measured = await run_rounds(sides, ids, args, "replicas", snapshot)
        medians, counted = measured.medians, measured.counted
        reads, writes = measured.reads, measured.writes
        positions = counted.pop(POSITIONS)
        total = sum(counted.values())
        print(f"\nmixed load, {args.clients} concurrent tasks, {args.rounds} rounds of {args.operations} operations; "
              f"replica rounds: {reads} reads, {writes} writes ({writes / (reads + writes):.1%} writes)")  # fmt: skip
        print(f"{'server':<12} {'statements':>11} {'share':>7}")
        for name, value in counted.items():
            print(f"{name:<12} {value:>11} {value / total:>7.1%}")
        print(f"and {positions} reads of the primary's position for read-your-writes (each operation is a caller "
              "of its own: none reads after its write)")  # fmt: skip
        print("\nper read inside the load (median of round medians, min-max of rounds), and this process's CPU "
              "per operation (what the client side costs, whatever else runs on the machine):")  # fmt: skip
        for name, values in medians.items():
            print(f"  {name:<22} {spread(values):<22} CPU {spread(measured.cpu_per_operation[name])}")
        print_replica_cost(medians, REPLICA_PAIRS, RAW_PAIR)
        print_ratios(
            medians,
            (
                ("DataFlow replicas / raw replicas", "replicas", "raw, replicas", ""),
                ("DataFlow primary / raw primary", "primary only", "raw, primary", ""),
            ),
        )
        await alone(sides, ids[len(ids) // 2], args.rounds)
        for held in raw.values():
            await held.close()
        routing = routing_cost(routed, busy)
        assert busy.replicas is not None
        first = await busy.replicas.replicas[0].pools.get()
        held = await first.acquire()  # the worst case of least_busy: the first replica is busy, all are counted
        routing["least_busy, first replica busy"] = _routing_cost(busy, 100_000, 7)["no recent write"]
        await first.release(held)
        print_routing(routing)
        await routed.close_async()
        await direct.close_async()
        await busy.close_async()
    finally:
        pair.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operations", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--routing-only", action="store_true")
    asyncio.run(main(parser.parse_args()))
