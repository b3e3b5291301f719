"""Query power (issue 14): include, AggregateNode, express reads, keyset pages and streams, against their references.

    python benchmarks/bench_query.py [--rows 100000] [--reads 2000] [--stream-rows 1000000] [--rounds 3]
                                     [--backends postgres,sqlite,mysql] [--postgres-url ...] [--mysql-url ...]

Every figure is a time ratio measured in the same run against its reference:
the raw queries a careful user would write with the driver, or DataFlow's own
ReadNode workflow, or page 1 of the same listing. DataFlow and the reference
read the same tables (DataFlow's, filled once), calls alternate so that both
share the machine's noise, and each figure is measured ``--rounds`` times:
the median round is printed with the range. Stream memory is the peak RSS
growth of this process (``/proc/self/status`` VmHWM, reset through
``/proc/self/clear_refs``) while ``db.express.stream`` reads every row.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import os
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import define, interleaved_medians, node, report_targets, rows

from dataflow import AsyncLocalRuntime, DataFlow
from dataflow.url import DatabaseURL

Figure = tuple[str, list[tuple[float, float]], str, float | None]
Action = Callable[[], Awaitable[object]]
TEAMS, MEMBERS, PAGE = 50, 1000, 100


def define_query_models(db: DataFlow) -> None:
    """Item (the common benchmark model) for aggregates and pages, Member -> Team for include, Event for streams."""
    define(db)

    @db.model
    class Event:
        sku: str
        name: str
        qty: int
        price: float
        active: bool

    @db.model
    class Team:
        name: str

    @db.model
    class Member:
        name: str
        qty: int
        team_id: Team | None = None


async def fill(db: DataFlow, item_rows: int) -> None:
    """The teams, the members (one in ten without a team) and ``item_rows`` items, through DataFlow's bulk path."""
    await db.express.bulk_create("Team", [{"name": f"team {i}"} for i in range(TEAMS)])
    members = [
        {"name": f"member {i}", "qty": i % 7, "team_id": None if i % 10 == 9 else 1 + i % TEAMS} for i in range(MEMBERS)
    ]
    await db.express.bulk_create("Member", members)
    await db.express.bulk_create("Item", rows(item_rows), batch_size=10_000)


class Figures:
    """The figures of one backend: each measured in ``rounds`` rounds of alternating calls."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.measured: list[Figure] = []

    async def compare(
        self, what: str, ours: Action, reference: Action, name: str, target: float | None, calls: int
    ) -> None:
        results = [tuple(await interleaved_medians(calls, ours, reference)) for _ in range(self.rounds)]
        self.measured.append((what, [(a, b) for a, b in results], name, target))

    async def compare_many(
        self, calls: int, actions: dict[str, Action], figures: list[tuple[str, str, str, float | None]]
    ) -> None:
        """Measure the actions in turn, once per round; ``figures`` name (what, ours, reference, target) by action."""
        names = list(actions)
        rounds = []
        for _ in range(self.rounds):
            medians = await interleaved_medians(calls, *actions.values())
            rounds.append(dict(zip(names, medians, strict=True)))
        for what, ours, reference, target in figures:
            self.measured.append((what, [(r[ours], r[reference]) for r in rounds], reference, target))


def workflow_action(runtime: AsyncLocalRuntime, db: DataFlow, name: str, params: dict[str, Any]) -> Action:
    workflow = node(db, name, params).build()

    async def action() -> object:
        return (await runtime.execute_async(workflow))[0]["n"]

    return action


async def dataflow_figures(
    db: DataFlow,
    figures: Figures,
    raw_include: Action,
    raw_group_by: Action,
    item_rows: int,
    include_target: float | None,
) -> None:
    """The figures measured the same way on every backend: include, aggregate, keyset and offset pages."""
    runtime = AsyncLocalRuntime()
    include = {"limit": MEMBERS, "order_by": ["id"], "include": ["team"]}
    list_node = workflow_action(runtime, db, "MemberListNode", include)
    first, theirs = await list_node(), await raw_include()
    assert isinstance(first, dict) and first["records"] == theirs, "the raw include must give the same records"

    async def express_list() -> object:
        return await db.express.list("Member", **include)

    await figures.compare_many(
        50,
        {"workflow": list_node, "express": express_list, "2 raw queries": raw_include},
        [
            (f"ListNode {MEMBERS:,} rows include=['team']", "workflow", "2 raw queries", include_target),
            (f"express.list {MEMBERS:,} rows include=['team']", "express", "2 raw queries", include_target),
        ],
    )

    aggregate = workflow_action(runtime, db, "ItemAggregateNode", {
        "group_by": ["qty"], "order_by": ["qty"],
        "aggregates": {"n": {"$count": "*"}, "total": {"$sum": "price"}, "mean": {"$avg": "price"}},
    })  # fmt: skip
    groups, raw_groups = await aggregate(), await raw_group_by()
    assert isinstance(groups, dict) and isinstance(raw_groups, list) and groups["count"] == len(raw_groups) == 100
    await figures.compare(
        f"AggregateNode over {item_rows:,} rows (3 aggregates)", aggregate, raw_group_by, "raw GROUP BY", 1.2, 15
    )

    pages = max(1, item_rows // PAGE)
    skipped = (pages - 1) * PAGE
    deep_cursor = (await db.express.list("Item", limit=skipped))["next"] if skipped else None

    async def keyset_first() -> object:
        return await db.express.list("Item", limit=PAGE)

    async def keyset_deep() -> object:
        return await db.express.list("Item", limit=PAGE, after=deep_cursor)

    async def offset_first() -> object:
        return await db.express.list("Item", limit=PAGE, offset=0)

    async def offset_deep() -> object:
        return await db.express.list("Item", limit=PAGE, offset=skipped)

    deep = await keyset_deep()
    assert isinstance(deep, dict) and deep["records"] == (await offset_deep())["records"]  # type: ignore[index]
    await figures.compare_many(
        100,
        {"keyset page 1": keyset_first, "keyset deep": keyset_deep, "offset page 1": offset_first,
         "offset deep": offset_deep},
        [
            (f"keyset page {pages:,} of {PAGE} rows (after=)", "keyset deep", "keyset page 1", 1.5),
            (f"offset page {pages:,} of {PAGE} rows (offset=)", "offset deep", "offset page 1", None),
        ],
    )  # fmt: skip


async def read_figures(
    db: DataFlow, figures: Figures, raw_read: Action, key: Any, reads: int, express_vs_raw: float | None
) -> None:
    """express.read and the ReadNode workflow by key, against the raw driver and against each other."""
    workflow = workflow_action(AsyncLocalRuntime(), db, "ItemReadNode", {"id": key})

    async def express_read() -> object:
        return await db.express.read("Item", key)

    assert await express_read() == await workflow()
    await figures.compare_many(
        reads,
        {"express": express_read, "workflow": workflow, "raw": raw_read},
        [
            ("express.read by key", "express", "raw", express_vs_raw),
            ("ReadNode workflow by key", "workflow", "raw", None),
            ("express.read by key vs the ReadNode workflow", "express", "workflow", 1.1),
        ],
    )
    # The last figure compares against the workflow: name its reference so.
    what, rounds, _, target = figures.measured[-1]
    figures.measured[-1] = (what, rounds, "ReadNode workflow", target)


def rss_kb(field: str) -> int:
    """A line of /proc/self/status in kB (VmRSS now, VmHWM the peak since the last reset)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def reset_peak_rss() -> None:
    # Writing 5 to clear_refs sets VmHWM back to the current RSS (Linux 4.0+), so the peak is this stream's own.
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


async def stream_memory(db: DataFlow, expected: int) -> tuple[float, float]:
    """(peak RSS growth in MB, seconds) of reading every Event through ``db.express.stream``.

    Measured first in the process, before any other figure has made (and freed) memory that the stream could
    reuse without growing the RSS.
    """
    gc.collect()
    before = rss_kb("VmRSS")
    reset_peak_rss()
    started, seen = time.perf_counter(), 0
    async for _ in db.express.stream("Event", batch=1000):
        seen += 1
    elapsed = time.perf_counter() - started
    assert seen == expected, (seen, expected)
    return (rss_kb("VmHWM") - before) / 1024, elapsed


# -- PostgreSQL -----------------------------------------------------------------------------------------------


async def bench_postgres(url: str, args: argparse.Namespace) -> None:
    # Each backend imports its driver when it runs: one that is not installed must not stop the others.
    import asyncpg  # noqa: PLC0415 - a driver, needed only when the PostgreSQL figures are asked for

    schema = f"bench_query_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        await _bench_postgres(url, schema, admin, args)
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def _bench_postgres(url: str, schema: str, admin: Any, args: argparse.Namespace) -> None:
    import asyncpg  # noqa: PLC0415 - a driver, needed only when the PostgreSQL figures are asked for

    separator = "&" if "?" in url else "?"
    db = DataFlow(f"{url}{separator}schema={schema}&pool_size=10")
    define_query_models(db)
    await db.create_tables_async()
    pool = await asyncpg.create_pool(url, min_size=2, max_size=2, server_settings={"search_path": schema})
    # The stream's rows are made by the server itself: the fastest bulk path, and no client memory.
    await admin.execute(
        f"INSERT INTO \"{schema}\".event (sku, name, qty, price, active) SELECT 'sku-' || g, 'item ' || g, "
        "g % 100, g * 0.5, g % 2 = 0 FROM generate_series(1, $1::bigint) AS g",
        args.stream_rows,
    )
    await admin.execute(f'ANALYZE "{schema}".event')
    growth, elapsed = await stream_memory(db, args.stream_rows)

    async def raw_stream() -> int:
        count = 0
        async with pool.acquire() as connection, connection.transaction():
            async for record in connection.cursor("SELECT id, sku, name, qty, price, active FROM event", prefetch=1000):
                dict(record)
                count += 1
        return count

    started = time.perf_counter()
    await raw_stream()
    raw_elapsed = time.perf_counter() - started
    total = args.stream_rows
    print(
        f"\ndb.express.stream over {total:,} rows (batch 1000): peak RSS growth {growth:.1f} MB (target < 50 MB: "
        f"{'ok' if growth < 50 else 'MISSED'}), {elapsed:.1f} s; raw asyncpg server-side cursor: {raw_elapsed:.1f} s"
    )
    await fill(db, args.rows)
    await admin.execute(f'SET search_path TO "{schema}"; ANALYZE')
    figures = Figures(args.rounds)

    async def raw_include() -> object:
        # What a careful user writes: the page, then its teams in one query, joined in Python.
        async with pool.acquire() as connection:
            members = await connection.fetch("SELECT id, name, qty, team_id FROM member ORDER BY id LIMIT $1", MEMBERS)
            keys = list({m["team_id"] for m in members if m["team_id"] is not None})
            teams = {
                t["id"]: dict(t) for t in await connection.fetch("SELECT id, name FROM team WHERE id = ANY($1)", keys)
            }
        return [{**dict(m), "team": teams.get(m["team_id"])} for m in members]

    async def raw_group_by() -> object:
        sql = "SELECT qty, COUNT(*), SUM(price), AVG(price) FROM item GROUP BY qty ORDER BY qty"
        return [dict(row) for row in await pool.fetch(sql)]

    await dataflow_figures(db, figures, raw_include, raw_group_by, args.rows, 1.3)
    key = await pool.fetchval("SELECT MIN(id) FROM item")

    async def raw_read() -> object:
        return await pool.fetchrow("SELECT id, sku, name, qty, price, active FROM item WHERE id = $1", key)

    await read_figures(db, figures, raw_read, key, args.reads, 0.5)
    version = (await admin.fetchval("SHOW server_version")).split()[0]
    report_targets(
        f"PostgreSQL {version}, asyncpg {asyncpg.__version__} (time ratios; raw pool of 2)", figures.measured
    )

    await pool.close()
    await db.close_async()


# -- SQLite ---------------------------------------------------------------------------------------------------


async def bench_sqlite(args: argparse.Namespace) -> None:
    import aiosqlite  # noqa: PLC0415 - a driver, needed only for the SQLite baseline

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "query.db")
        db = DataFlow(f"sqlite:///{path}")
        define_query_models(db)
        await db.create_tables_async()
        await fill(db, args.rows)
        raw = await aiosqlite.connect(path, isolation_level=None)
        raw.row_factory = aiosqlite.Row
        await raw.execute("ANALYZE")
        figures = Figures(args.rounds)

        async def raw_include() -> object:
            members = await raw.execute_fetchall(
                "SELECT id, name, qty, team_id FROM member ORDER BY id LIMIT ?", (MEMBERS,)
            )
            keys = list({m["team_id"] for m in members if m["team_id"] is not None})
            marks = ", ".join("?" * len(keys))
            found = await raw.execute_fetchall(f"SELECT id, name FROM team WHERE id IN ({marks})", keys)
            teams = {t["id"]: dict(t) for t in found}
            return [{**dict(m), "team": teams.get(m["team_id"])} for m in members]

        async def raw_group_by() -> object:
            sql = "SELECT qty, COUNT(*), SUM(price), AVG(price) FROM item GROUP BY qty ORDER BY qty"
            return [dict(row) for row in await raw.execute_fetchall(sql)]

        await dataflow_figures(db, figures, raw_include, raw_group_by, args.rows, None)
        key = (await raw.execute_fetchall("SELECT MIN(id) FROM item"))[0][0]  # type: ignore[index]

        async def raw_read() -> object:
            sql = "SELECT id, sku, name, qty, price, active FROM item WHERE id = ?"
            async with raw.execute(sql, (key,)) as cursor:
                return await cursor.fetchone()

        await read_figures(db, figures, raw_read, key, args.reads, None)
        report_targets(f"SQLite {sqlite3_version()}, aiosqlite as the raw driver (time ratios)", figures.measured)
        await raw.close()
        await db.close_async()


def sqlite3_version() -> str:
    return sqlite3.sqlite_version


# -- MariaDB / MySQL ------------------------------------------------------------------------------------------


async def bench_mysql(url_text: str, args: argparse.Namespace) -> None:
    import aiomysql  # noqa: PLC0415 - a driver, needed only when the MariaDB figures are asked for
    from bench_mysql import connect_args, with_database  # noqa: PLC0415 - bench_mysql imports the MariaDB driver

    url = DatabaseURL.parse(url_text)
    database = f"bench_query_{secrets.token_hex(3)}"
    admin = await aiomysql.connect(**connect_args(url, None))
    async with admin.cursor() as cursor:
        await cursor.execute(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
    try:
        db = DataFlow(with_database(url, database) + "?pool_size=10")
        define_query_models(db)
        await db.create_tables_async()
        await fill(db, args.rows)
        pool = await aiomysql.create_pool(minsize=2, maxsize=2, **connect_args(url, database))
        try:
            await _bench_mysql(db, pool, aiomysql, args)
        finally:
            pool.close()
            await pool.wait_closed()
            await db.close_async()
    finally:
        async with admin.cursor() as cursor:
            await cursor.execute(f"DROP DATABASE {database}")
        admin.close()


async def _bench_mysql(db: DataFlow, pool: Any, aiomysql: Any, args: argparse.Namespace) -> None:
    figures = Figures(args.rounds)

    async def fetch(sql: str, params: Any = ()) -> list[dict[str, Any]]:
        async with pool.acquire() as connection, connection.cursor(aiomysql.DictCursor) as cursor:
            await cursor.execute(sql, params)
            return list(await cursor.fetchall())

    async def raw_include() -> object:
        async with pool.acquire() as connection, connection.cursor(aiomysql.DictCursor) as cursor:
            await cursor.execute("SELECT id, name, qty, team_id FROM member ORDER BY id LIMIT %s", (MEMBERS,))
            members = await cursor.fetchall()
            keys = list({m["team_id"] for m in members if m["team_id"] is not None})
            await cursor.execute(f"SELECT id, name FROM team WHERE id IN ({', '.join(['%s'] * len(keys))})", keys)
            teams = {t["id"]: t for t in await cursor.fetchall()}
        return [{**m, "team": teams.get(m["team_id"])} for m in members]

    async def raw_group_by() -> object:
        return await fetch("SELECT qty, COUNT(*), SUM(price), AVG(price) FROM item GROUP BY qty ORDER BY qty")

    await fetch("ANALYZE TABLE item, member, team")
    await dataflow_figures(db, figures, raw_include, raw_group_by, args.rows, None)
    key = (await fetch("SELECT MIN(id) AS id FROM item"))[0]["id"]

    async def raw_read() -> object:
        return await fetch("SELECT id, sku, name, qty, price, active FROM item WHERE id = %s", (key,))

    await read_figures(db, figures, raw_read, key, args.reads, None)
    version = (await fetch("SELECT VERSION() AS v"))[0]["v"]
    report_targets(
        f"MySQL/MariaDB {version}, aiomysql {aiomysql.__version__} (time ratios; raw pool of 2)", figures.measured
    )


BACKENDS = {"postgres": "dataflow_postgres", "sqlite": "dataflow_sqlite", "mysql": "dataflow_mysql"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="items for aggregates and pages")
    parser.add_argument("--reads", type=int, default=2_000, help="reads by key per round")
    parser.add_argument("--stream-rows", type=int, default=1_000_000, help="items the PostgreSQL stream reads")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per figure; the median is printed")
    parser.add_argument("--backends", default="postgres,sqlite,mysql")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--mysql-url", default="mysql://root@127.0.0.1:3306/test")
    args = parser.parse_args()
    runs: dict[str, Callable[[], Awaitable[None]]] = {
        "postgres": lambda: bench_postgres(args.postgres_url, args),
        "sqlite": lambda: bench_sqlite(args),
        "mysql": lambda: bench_mysql(args.mysql_url, args),
    }
    for backend in args.backends.split(","):
        if backend not in BACKENDS:
            parser.error(f"--backends: unknown backend {backend!r}; use {', '.join(BACKENDS)}")
        if importlib.util.find_spec(BACKENDS[backend]) is None:
            print(f"skipping {backend}: {BACKENDS[backend]} is not installed")
            continue
        asyncio.run(runs[backend]())
    return 0


if __name__ == "__main__":
    sys.exit(main())
