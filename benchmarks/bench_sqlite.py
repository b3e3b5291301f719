"""DataFlow on SQLite against the raw drivers (sqlite3 / aiosqlite), same machine, same data, one run.

python benchmarks/bench_sqlite.py [--rows 100000] [--reads 2000] [--memory-rows 1000000] [--rounds 11]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiosqlite

sys.path.insert(0, str(Path(__file__).parent))
from common import (
    as_tuples,
    checked_run,
    define,
    interleaved_rounds,
    median_latency,
    medians,
    monitors_line,
    node,
    peak_memory,
    report,
    round_ratios,
    rows,
)

from dataflow import AsyncLocalRuntime, DataFlow

DDL = (
    "CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT NOT NULL UNIQUE, "
    "name TEXT NOT NULL, qty INTEGER NOT NULL, price REAL NOT NULL, active INTEGER NOT NULL)"
)


async def raw_connection(path: str) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute(DDL)
    return conn


COLUMNS = ("sku", "name", "qty", "price", "active")
INSERT = "INSERT INTO item (sku, name, qty, price, active) VALUES (?, ?, ?, ?, ?)"


async def bench(rows_count: int, reads: int, directory: str, memory_rows: int, rounds: int) -> None:
    data = rows(rows_count)
    tuples = as_tuples(data, COLUMNS)
    raw_path, df_path = os.path.join(directory, "raw.db"), os.path.join(directory, "df.db")
    raw = await raw_connection(raw_path)
    db = DataFlow(f"sqlite:///{df_path}")
    print(monitors_line(db))
    define(db)
    await db.create_tables_async()
    runtime = AsyncLocalRuntime()
    results = []

    async def raw_clear() -> None:
        await raw.execute("DELETE FROM item")

    async def raw_insert() -> None:
        # The raw side starts from the same dicts and builds its tuples inside its timing.
        await raw.execute("BEGIN")
        await raw.executemany(INSERT, as_tuples(data, COLUMNS))
        await raw.execute("COMMIT")

    async def raw_insert_tuples() -> None:
        await raw.execute("BEGIN")
        await raw.executemany(INSERT, tuples)
        await raw.execute("COMMIT")

    clear = node(db, "ItemBulkDeleteNode", {"filter": {}, "confirmed": True}).build()
    create = node(db, "ItemBulkCreateNode", {"data": data, "batch_size": 10000}).build()

    async def df_clear() -> None:
        await runtime.execute_async(clear)

    async def df_insert() -> None:
        await runtime.execute_async(create)

    async def raw_insert_dicts() -> None:
        # The same data as DataFlow gets: dicts, bound by name in C.
        await raw.execute("BEGIN")
        await raw.executemany(
            "INSERT INTO item (sku, name, qty, price, active) VALUES (:sku, :name, :qty, :price, :active)", data
        )
        await raw.execute("COMMIT")

    sides = ((raw_clear, raw_insert), (raw_clear, raw_insert_tuples), (raw_clear, raw_insert_dicts))
    sides += ((df_clear, df_insert),)
    raw_runs, raw_tuples_runs, raw_dicts_runs, df_runs = await interleaved_rounds(rounds, *sides)
    df_time = medians(df_runs)
    results.append((f"BulkCreate {rows_count:,} rows x 5 columns", df_time, medians(raw_runs), "throughput", 0.9))
    results.append(("  same, raw given tuples built before timing", df_time, medians(raw_tuples_runs), "throughput"))
    results.append(("  same, raw given the dicts (named params)", df_time, medians(raw_dicts_runs), "throughput"))
    notes = [f"BulkCreate: {round_ratios(df_runs, raw_runs)}"]

    half = rows_count // 2
    upsert_rows = rows(rows_count, start=half)
    upsert_sql = (
        "INSERT INTO item (sku, name, qty, price, active) VALUES (?, ?, ?, ?, ?) ON CONFLICT (sku) DO UPDATE SET "
        "name = excluded.name, qty = excluded.qty, price = excluded.price, active = excluded.active"
    )
    seeded = tuples  # rows 0..n exist; the upsert writes half..n+half, so half of it exists

    async def raw_seed() -> None:
        await raw.execute("DELETE FROM item")
        await raw.execute("BEGIN")
        await raw.executemany(INSERT, seeded)
        await raw.execute("COMMIT")

    async def raw_upsert() -> None:
        await raw.execute("BEGIN")
        await raw.executemany(upsert_sql, as_tuples(upsert_rows, COLUMNS))
        await raw.execute("COMMIT")

    upsert = node(db, "ItemBulkUpsertNode", {"data": upsert_rows, "conflict_on": ["sku"], "batch_size": 10000}).build()

    async def df_seed() -> None:
        await runtime.execute_async(clear)
        await runtime.execute_async(create)

    df_upsert = checked_run(runtime, upsert, {"inserted": half, "updated": rows_count - half})

    raw_runs, df_runs = await interleaved_rounds(rounds, (raw_seed, raw_upsert), (df_seed, df_upsert))
    upserted = f"BulkUpsert {rows_count:,} rows, half existing"
    results.append((upserted, medians(df_runs), medians(raw_runs), "throughput", 0.85))
    notes.append(f"BulkUpsert: {round_ratios(df_runs, raw_runs)}")

    async with raw.execute("SELECT MIN(id) FROM item") as cursor:
        raw_key = (await cursor.fetchone())[0]  # type: ignore[index]
    listed, _ = await runtime.execute_async(node(db, "ItemListNode", {"limit": 1, "order_by": ["id"]}).build())
    read = node(db, "ItemReadNode", {"id": listed["n"]["records"][0]["id"]}).build()

    async def raw_read() -> object:
        async with raw.execute("SELECT id, sku, name, qty, price, active FROM item WHERE id = ?", (raw_key,)) as cursor:
            return await cursor.fetchone()

    async def df_read() -> object:
        return await runtime.execute_async(read)

    raw_latency = await median_latency(reads, raw_read)
    df_latency = await median_latency(reads, df_read)
    results.append((f"ReadNode workflow, median of {reads:,}", df_latency, raw_latency, "latency"))
    report(
        "SQLite: DataFlow vs aiosqlite (ratio: DataFlow speed / raw speed for bulk, time / raw time for reads)", results
    )
    for note in notes:
        print(note)
    await raw.close()
    if memory_rows:
        big = node(db, "ItemBulkCreateNode", {"data": [], "batch_size": 10000}).build()

        async def bulk_create(data: list[dict[str, Any]]) -> None:
            outcome, _ = await runtime.execute_async(big, {"n": {"data": data}})
            assert outcome["n"] == {"inserted": len(data)}, outcome

        await peak_memory("SQLite BulkCreate memory", memory_rows, df_clear, bulk_create)
    await db.close_async()


def import_time(runs: int = 5) -> float:
    """Seconds to ``import dataflow`` in a fresh interpreter, from ``-X importtime``: the best of ``runs``.

    Bytecode may be cached (a first run writes it), as it is for an installed package.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    timings = []
    for _ in range(runs + 1):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import dataflow"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        line = [ln for ln in result.stderr.splitlines() if ln.rstrip().endswith("| dataflow")][-1]
        timings.append(int(line.split("|")[1]) / 1e6)
    return min(timings[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=2_000)
    parser.add_argument("--memory-rows", type=int, default=1_000_000, help="rows of the memory figure (0: none)")
    parser.add_argument("--rounds", type=int, default=11, help="interleaved rounds of each bulk figure (medians)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(bench(args.rows, args.reads, directory, args.memory_rows, args.rounds))
    print(f"\nimport dataflow: {import_time() * 1000:.0f} ms cumulative (target < 100 ms)")
    print(f"sqlite3 {sqlite3.sqlite_version}")


if __name__ == "__main__":
    main()
