"""DataFlow on MySQL/MariaDB against raw aiomysql, same server, same data, one run.

    python benchmarks/bench_mysql.py [--rows 100000] [--reads 2000] [--memory-rows 1000000] [--url mysql://...]

Each side gets its own database (created here, dropped at the end) holding
the same table: 5 columns, an auto-increment key, a unique sku, the same
collation. Raw bulk writes use aiomysql's ``executemany`` (which rewrites an
INSERT into multi-row statements) inside one transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import aiomysql

sys.path.insert(0, str(Path(__file__).parent))
from common import (
    as_tuples,
    checked_run,
    define,
    interleaved_best,
    interleaved_medians,
    monitors_line,
    node,
    peak_memory,
    report,
    rows,
)

from dataflow import AsyncLocalRuntime, DataFlow
from dataflow.url import DatabaseURL
from dataflow_mysql import MySQLDialect

COLUMNS = ("sku", "name", "qty", "price", "active")
DDL = (
    "CREATE TABLE item (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, sku VARCHAR(255) NOT NULL, "
    "name LONGTEXT NOT NULL, qty BIGINT NOT NULL, price DOUBLE NOT NULL, active TINYINT(1) NOT NULL, "
    "UNIQUE KEY uq_item_sku (sku)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={collation}"
)
INSERT = "INSERT INTO item (sku, name, qty, price, active) VALUES (%s, %s, %s, %s, %s)"
UPSERT = (
    INSERT + " ON DUPLICATE KEY UPDATE name = VALUES(name), qty = VALUES(qty), price = VALUES(price), "
    "active = VALUES(active)"
)
SELECT = "SELECT id, sku, name, qty, price, active FROM item WHERE id = %s"


def connect_args(url: DatabaseURL, database: str | None) -> dict[str, Any]:
    return {
        "host": url.host or "127.0.0.1",
        "port": url.port or 3306,
        "user": url.username or "root",
        "password": url.password or "",
        "db": database,
        "charset": "utf8mb4",
        "autocommit": True,
    }


def with_database(url: DatabaseURL, database: str) -> str:
    auth = (url.username or "root") + (f":{url.password}" if url.password else "")
    return f"mysql://{auth}@{url.host or '127.0.0.1'}:{url.port or 3306}/{database}"


async def throughput(tasks: int, total: int, action: Any) -> float:
    """Seconds for ``total`` calls of ``action(i)`` spread over ``tasks`` concurrent tasks."""

    async def worker(offset: int) -> None:
        for i in range(offset, total, tasks):
            await action(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker(t) for t in range(tasks)))
    return time.perf_counter() - started


async def bench(url_text: str, rows_count: int, reads: int, memory_rows: int) -> None:
    url = DatabaseURL.parse(url_text)
    raw_db, df_db = f"bench_raw_{secrets.token_hex(3)}", f"bench_df_{secrets.token_hex(3)}"
    admin = await aiomysql.connect(**connect_args(url, None))
    async with admin.cursor() as cursor:
        await cursor.execute(f"CREATE DATABASE {raw_db} CHARACTER SET utf8mb4")
        await cursor.execute(f"CREATE DATABASE {df_db} CHARACTER SET utf8mb4")
    try:
        await _bench(url, raw_db, df_db, rows_count, reads, memory_rows)
    finally:
        async with admin.cursor() as cursor:
            await cursor.execute(f"DROP DATABASE {raw_db}")
            await cursor.execute(f"DROP DATABASE {df_db}")
        admin.close()


async def _bench(url: DatabaseURL, raw_db: str, df_db: str, rows_count: int, reads: int, memory_rows: int) -> None:
    db = DataFlow(with_database(url, df_db) + "?pool_size=10&local_infile=true")
    print(monitors_line(db))
    define(db)
    await db.create_tables_async()
    dialect = db.dialect
    assert isinstance(dialect, MySQLDialect)
    server: Any = dialect.server
    raw = await aiomysql.connect(**connect_args(url, raw_db))
    cursor = await raw.cursor()
    await cursor.execute(DDL.format(collation=server.collation))
    runtime = AsyncLocalRuntime()
    results = []

    data = rows(rows_count)
    create = node(db, "ItemBulkCreateNode", {"data": data, "batch_size": 10000}).build()

    async def raw_clear() -> None:
        await cursor.execute("TRUNCATE TABLE item")

    async def raw_insert() -> None:
        # From the same dicts as DataFlow: the tuples are built inside the raw side's timing.
        await raw.begin()
        await cursor.executemany(INSERT, as_tuples(data, COLUMNS))
        await raw.commit()

    async def df_clear() -> None:
        await cursor.execute(f"TRUNCATE TABLE {df_db}.item")

    df_insert = checked_run(runtime, create, {"inserted": rows_count})

    raw_time, df_time = await interleaved_best(5, (raw_clear, raw_insert), (df_clear, df_insert))
    results.append((f"BulkCreate {rows_count:,} rows x 5 cols", df_time, raw_time, "throughput", 1.0))

    half = rows_count // 2
    upsert_rows = rows(rows_count, start=half)

    async def raw_seed() -> None:
        await raw_clear()
        await raw_insert()

    async def raw_upsert() -> None:
        await raw.begin()
        await cursor.executemany(UPSERT, as_tuples(upsert_rows, COLUMNS))
        await raw.commit()

    upsert = node(db, "ItemBulkUpsertNode", {"data": upsert_rows, "conflict_on": ["sku"], "batch_size": 10000}).build()

    async def df_seed() -> None:
        await df_clear()
        await df_insert()

    df_upsert = checked_run(runtime, upsert, {"inserted": half, "updated": rows_count - half})

    raw_time, df_time = await interleaved_best(5, (raw_seed, raw_upsert), (df_seed, df_upsert))
    results.append((f"BulkUpsert {rows_count:,} rows, half existing", df_time, raw_time, "throughput", 1.0))

    if dialect.options.local_infile and server.local_infile:
        load = node(db, "ItemBulkCreateNode", {"data": data, "strategy": "load_data"}).build()

        df_load = checked_run(runtime, load, {"inserted": rows_count})

        raw_time, df_time = await interleaved_best(5, (raw_clear, raw_insert), (df_clear, df_load))
        results.append((f"BulkCreate {rows_count:,} rows, load_data", df_time, raw_time, "throughput"))

    await cursor.execute("SELECT id FROM item ORDER BY id LIMIT 10000")
    ids = [row[0] for row in await cursor.fetchall()]
    listed = (await runtime.execute_async(node(db, "ItemListNode", {"limit": 10000})))[0]["n"]["records"]
    df_ids = [row["id"] for row in listed]
    raw_pool = await aiomysql.create_pool(minsize=10, maxsize=10, **connect_args(url, raw_db))
    read = node(db, "ItemReadNode", {"id": df_ids[0]}).build()

    async def raw_read() -> object:
        async with raw_pool.acquire() as connection, connection.cursor() as pooled:
            await pooled.execute(SELECT, (ids[0],))
            return await pooled.fetchone()

    async def raw_held_read() -> object:
        await cursor.execute(SELECT, (ids[0],))
        return await cursor.fetchone()

    async def df_read() -> object:
        return await runtime.execute_async(read)

    df_latency, raw_latency, held_latency = await interleaved_medians(reads, df_read, raw_read, raw_held_read)
    results.append((f"ReadNode workflow, median of {reads:,} (raw pool)", df_latency, raw_latency, "latency", 1.0))
    results.append((f"ReadNode workflow, median of {reads:,} (raw held)", df_latency, held_latency, "latency", 1.2))

    reads_total, tasks = 10_000, 100

    async def raw_many(i: int) -> None:
        async with raw_pool.acquire() as connection, connection.cursor() as pooled:
            await pooled.execute(SELECT, (ids[i % len(ids)],))
            await pooled.fetchone()

    async def df_many(i: int) -> None:
        await runtime.execute_async(read, {"n": {"id": df_ids[i % len(df_ids)]}})

    await throughput(tasks, 500, raw_many)
    await throughput(tasks, 500, df_many)
    raw_time = await throughput(tasks, reads_total, raw_many)
    df_time = await throughput(tasks, reads_total, df_many)
    results.append((f"{reads_total:,} ReadNode runs, {tasks} tasks, pool 10", df_time, raw_time, "throughput"))

    report(
        f"{server.label}: DataFlow vs aiomysql {aiomysql.__version__} "
        "(ratio: speed vs raw for bulk and concurrent reads, time vs raw for one read)",
        results,
    )
    raw_pool.close()
    await raw_pool.wait_closed()
    if memory_rows:
        big = node(db, "ItemBulkCreateNode", {"data": [], "batch_size": 10000}).build()

        async def bulk_create(data: list[dict[str, Any]]) -> None:
            outcome, _ = await runtime.execute_async(big, {"n": {"data": data}})
            assert outcome["n"] == {"inserted": len(data)}, outcome

        await peak_memory(f"{server.label} BulkCreate memory", memory_rows, df_clear, bulk_create)
    raw.close()
    await db.close_async()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--url", default="mysql://root@127.0.0.1:3306/test")
    parser.add_argument("--memory-rows", type=int, default=1_000_000, help="rows of the memory figure (0: none)")
    args = parser.parse_args()
    asyncio.run(bench(args.url, args.rows, args.reads, args.memory_rows))


if __name__ == "__main__":
    main()
