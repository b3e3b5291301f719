"""Read replicas on MariaDB: the 90% read load's statements per server, and a read's latency inside it.

python benchmarks/bench_replicas_mariadb.py [--operations 1500] [--clients 6] [--rounds 11]

The MariaDB fixture (:mod:`dataflow.testing.replication`) starts a primary
with one GTID replica in a temp dir (the shared server is not touched). The
same load as ``bench_replicas.py`` runs in interleaved rounds on DataFlow with
the replica, DataFlow on the primary, and raw aiomysql on held connections
(reads on the replica, or on the primary). MariaDB has no
``pg_stat_statements``: the servers' ``Com_select``/``Com_update`` counters
are read around the replica rounds. A DataFlow write there is three
statements on the primary: the UPDATE, the SELECT of the updated record
(MariaDB's UPDATE has no RETURNING) and the SELECT of ``@@gtid_binlog_pos``
for read-your-writes; the replica's own SELECTs include its replay position
and lag checks.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

import aiomysql
from bench_replicas import Operation, dataflow_side, define, run_rounds
from replica_report import print_replica_cost, spread

from dataflow import DataFlow
from dataflow.testing.replication import MariaDBPair, start_mariadb_pair

SQL_READ = "SELECT id, sku, qty FROM bench_replica_item WHERE id = %s"
SQL_WRITE = "UPDATE bench_replica_item SET qty = %s WHERE id = %s"
COUNTERS = ("Com_select", "Com_update")


def counters(pair: MariaDBPair, name: str) -> dict[str, int]:
    rows = pair.sql(name, "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_select', 'Com_update')")
    return {str(key): int(str(value)) for key, value in rows}


class Held:
    """The raw side: aiomysql connections opened once and taken in turn."""

    def __init__(self, connections: list[aiomysql.Connection]) -> None:
        self.connections = connections
        self.free: asyncio.Queue[aiomysql.Connection] = asyncio.Queue()
        for connection in connections:
            self.free.put_nowait(connection)

    @classmethod
    async def open(cls, port: int, count: int) -> Held:
        return cls([
            await aiomysql.connect(host="127.0.0.1", port=port, user="root", db="test", autocommit=True)
            for _ in range(count)
        ])  # fmt: skip

    async def run(self, sql: str, *args: object) -> object:
        connection = await self.free.get()
        try:
            async with connection.cursor() as cursor:
                await cursor.execute(sql, args)
                return await cursor.fetchone()
        finally:
            self.free.put_nowait(connection)

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


async def main(args: argparse.Namespace) -> None:
    pair = start_mariadb_pair(Path(tempfile.mkdtemp(prefix="dataflow_bench_mariadb_replicas_")))
    try:
        pair.wait_replicating()
        routed = DataFlow(pair.primary_url, replicas=[pair.replica_url], max_replica_lag=30)
        direct = DataFlow(pair.primary_url)
        for db in (routed, direct):
            define(db)
        created = await routed.express.bulk_create(
            "Item", [{"sku": f"s{i}", "qty": i} for i in range(1000)], return_ids=True
        )
        ids = list(created["ids"])
        await asyncio.sleep(1.0)
        await routed.express.read("Item", ids[0], replica=False)
        await direct.express.read("Item", ids[0])
        raw_primary = await Held.open(pair.primary_port, args.clients)
        raw_replica = await Held.open(pair.replica_port, args.clients)

        def raw_side(reader: Held) -> tuple[Operation, Operation]:
            async def read(key: int) -> object:
                return await reader.run(SQL_READ, key)

            async def write(key: int) -> object:
                return await raw_primary.run(SQL_WRITE, key % 100, key)

            return read, write

        sides = {
            "replica": dataflow_side(routed),
            "primary only": dataflow_side(direct),
            "raw, replica": raw_side(raw_replica),
            "raw, primary": raw_side(raw_primary),
        }

        async def snapshot() -> dict[Any, int]:
            status = {server: counters(pair, server) for server in ("primary", "replica")}
            return {(server, counter): status[server][counter] for server in status for counter in COUNTERS}

        measured = await run_rounds(sides, ids, args, "replica", snapshot)
        medians, counted = measured.medians, measured.counted
        reads, writes = measured.reads, measured.writes
        share = writes / (reads + writes)
        print(f"\nMariaDB mixed load, {args.clients} concurrent tasks, {args.rounds} rounds of {args.operations} "
              f"operations; replica rounds: {reads} reads, {writes} writes ({share:.1%})")  # fmt: skip
        print(f"{'server':<9} {'Com_select':>11} {'Com_update':>11}")
        for server in ("primary", "replica"):
            print(f"{server:<9} {counted[server, 'Com_select']:>11} {counted[server, 'Com_update']:>11}")
        print("\nper read inside the load (median of round medians, min-max), and this process's CPU per operation:")
        for name, values in medians.items():
            print(f"  {name:<14} {spread(values):<22} CPU {spread(measured.cpu_per_operation[name])}")
        rows = (("replica / primary only (DataFlow)", "replica", "primary only"),)
        print_replica_cost(medians, rows, ("raw, replica", "raw, primary"))
        raw_primary.close()
        raw_replica.close()
        await routed.close_async()
        await direct.close_async()
    finally:
        pair.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operations", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=11)
    asyncio.run(main(parser.parse_args()))
