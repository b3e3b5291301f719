"""The DataFlow gateway over HTTP against a hand-written Starlette + asyncpg app and FastAPI + SQLAlchemy, one run.

    python benchmarks/bench_gateway.py [--url postgresql://...] [--reads 4000] [--writes 2000] [--rounds 3]
                                       [--bulk-rows 100000] [--soak-seconds 60] [--soak-rate 100]

Every server is its own uvicorn process with the same settings (one worker,
loopback, access log off, a pool of 10), over its own schema holding the same
table; this process is the load generator (keep-alive connections, bounded
request counts). Printed: requests/s with p50/p99 latency for ``GET
/api/item/{id}`` and ``POST /api/item`` and their ratios (targets: >= 0.8x the
hand-written app, >= 2x FastAPI); 100,000 rows through NDJSON ``POST
/api/item/bulk`` against the BulkCreate node (target >= 0.5x) with the server's
peak RSS growth; a soak at a fixed rate of mixed reads and writes, with its
errors, the server-side connection count and the server's memory over time.
FastAPI and SQLAlchemy are optional: without them that comparison is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).parent))
from common import define, rows
from http_load import Outcome, Request, closed_loop, fixed_rate

from dataflow import DataFlow

HERE = Path(__file__).parent
DEFAULT_URL = os.environ.get("DATAFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SERVERS = {"dataflow": "dataflow_app", "starlette+asyncpg": "starlette_app", "fastapi+sqlalchemy": "fastapi_app"}
APPLICATION = "bench_gateway"
CONNECTIONS = 16
SEEDED = 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_options(url: str, **options: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"


@contextmanager
def uvicorn_process(factory: str, url: str, schema: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``gateway_servers:<factory>`` under uvicorn on a free loopback port, until it answers; stopped at the end."""
    port = free_port()
    env = {**os.environ, "BENCH_URL": url, "BENCH_SCHEMA": schema}
    command = [sys.executable, "-m", "uvicorn", f"gateway_servers:{factory}", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"]  # fmt: skip
    process = subprocess.Popen(command, cwd=HERE, env=env)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/item/1", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"{factory} exited with {process.returncode}") from None
                time.sleep(0.05)
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=20)


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def reads(count: int) -> list[Request]:
    return [("GET", f"/api/item/{random.randint(1, SEEDED)}", None) for _ in range(count)]


def writes(count: int, tag: str) -> list[Request]:
    return [
        ("POST", "/api/item", json.dumps({"sku": f"{tag}-{i}", "name": f"item {i}", "qty": i % 100,
                                          "price": i * 0.5, "active": i % 2 == 0}).encode())
        for i in range(count)
    ]  # fmt: skip


async def prepare(url: str, schema: str) -> None:
    """The table in ``schema``, made by DataFlow for every server alike, with ``SEEDED`` items."""
    db = DataFlow(with_options(url, schema=schema))
    define(db)
    try:
        await db.create_tables_async()
        await db.express.bulk_create("Item", rows(SEEDED))
    finally:
        await db.close_async()


def line(name: str, outcome: list[Outcome]) -> str:
    rate = statistics.median(o.per_second for o in outcome)
    p50 = statistics.median(o.p50 for o in outcome) * 1000
    p99 = statistics.median(o.percentile(0.99) for o in outcome) * 1000
    errors = sum(o.errors for o in outcome)
    return f"  {name:<22} {rate:>9.0f} req/s   p50 {p50:>6.2f} ms   p99 {p99:>6.2f} ms   errors {errors}"


def ratio_line(what: str, ours: list[Outcome], theirs: list[Outcome], reference: str, target: float) -> str:
    ratio = statistics.median(o.per_second for o in ours) / statistics.median(o.per_second for o in theirs)
    verdict = "ok" if ratio >= target else "MISSED"
    return f"  {what:<34} {ratio:>5.2f}x {reference:<20} target >= {target:.1f}x: {verdict}"


async def request_rates(ports: dict[str, int], args: argparse.Namespace) -> None:
    """Reads and writes on every server, in rounds whose order rotates so that no server always goes first."""
    names = list(ports)
    outcomes: dict[tuple[str, str], list[Outcome]] = {(n, k): [] for n in names for k in ("read", "write")}
    for name in names:  # warm-up: connections opened, statements prepared, code paths run once
        await closed_loop(ports[name], reads(300), CONNECTIONS, 200)
        await closed_loop(ports[name], writes(100, f"warm-{name}"), CONNECTIONS, 201)
    for round_number in range(args.rounds):
        for step in range(len(names)):
            name = names[(round_number + step) % len(names)]
            outcomes[name, "read"].append(await closed_loop(ports[name], reads(args.reads), CONNECTIONS, 200))
            tag = f"r{round_number}-{name}"
            outcomes[name, "write"].append(await closed_loop(ports[name], writes(args.writes, tag), CONNECTIONS, 201))
    for kind, path in (("read", "GET /api/item/{id}"), ("write", "POST /api/item")):
        print(f"\n{path}  ({CONNECTIONS} connections, median of {args.rounds} rounds)")
        for name in names:
            print(line(name, outcomes[name, kind]))
        ours = outcomes["dataflow", kind]
        print(ratio_line(f"dataflow {kind}s vs", ours, outcomes["starlette+asyncpg", kind], "starlette+asyncpg", 0.8))
        if "fastapi+sqlalchemy" in ports:
            fastapi = outcomes["fastapi+sqlalchemy", kind]
            print(ratio_line(f"dataflow {kind}s vs", ours, fastapi, "fastapi+sqlalchemy", 2.0))


async def bulk(url: str, schema: str, server: subprocess.Popen[bytes], port: int, count: int) -> None:
    """``count`` rows as NDJSON through the gateway, against the BulkCreate node in this process."""
    from http_load import Connection

    body = b"\n".join(json.dumps(row).encode() for row in rows(count, start=10_000_000))
    before = memory_kib(server.pid)
    connection = await Connection.open(port)
    started = time.perf_counter()
    status, reply = await connection.send("POST", "/api/item/bulk", body, content_type="application/x-ndjson")
    http_seconds = time.perf_counter() - started
    await connection.close()
    after = memory_kib(server.pid)
    assert status == 201 and json.loads(reply)["inserted"] == count, (status, reply[:300])
    db = DataFlow(with_options(url, schema=schema))
    define(db)
    try:
        data = rows(count, start=20_000_000)
        started = time.perf_counter()
        result = await db.express.bulk_create("Item", data)
        node_seconds = time.perf_counter() - started
        assert result["inserted"] == count
    finally:
        await db.close_async()
    ratio = node_seconds / http_seconds
    print(f"\nNDJSON POST /api/item/bulk, {count} rows ({len(body) / 1e6:.1f} MB)")
    print(f"  gateway over HTTP      {count / http_seconds:>9.0f} rows/s")
    print(f"  BulkCreate node        {count / node_seconds:>9.0f} rows/s   (in process, same strategy)")
    print(f"  ratio                  {ratio:>5.2f}x   target >= 0.5x: {'ok' if ratio >= 0.5 else 'MISSED'}")
    growth = (after["VmHWM"] - before["VmHWM"]) / 1024
    print(
        f"  server peak RSS        {before['VmHWM'] / 1024:.0f} MB -> {after['VmHWM'] / 1024:.0f} MB (+{growth:.0f} MB)"
    )


async def sessions(admin: asyncpg.Connection) -> int:
    found = await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", APPLICATION)
    return int(found)


async def soak(admin: asyncpg.Connection, server: subprocess.Popen[bytes], port: int, args: argparse.Namespace) -> None:
    """A fixed rate of mixed requests (4 reads to 1 write); memory and server-side connections sampled throughout."""
    total = int(args.soak_rate * args.soak_seconds)
    writes_every = 5
    mixed: list[Request] = []
    for i, read in enumerate(reads(total)):
        mixed.append(writes(1, f"soak-{i}")[0] if i % writes_every == 0 else read)
    samples: list[tuple[float, int, int]] = []
    started = time.perf_counter()

    done = asyncio.Event()

    async def sample() -> None:
        # Stopped by an event, not cancelled: a cancel could land inside a query on the shared admin connection.
        while not done.is_set():
            samples.append((time.perf_counter() - started, memory_kib(server.pid)["VmRSS"], await sessions(admin)))
            with suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), max(1.0, args.soak_seconds / 12))

    sampler = asyncio.ensure_future(sample())
    outcome = await fixed_rate(port, mixed, args.soak_rate, CONNECTIONS)
    done.set()
    await sampler
    samples.append((time.perf_counter() - started, memory_kib(server.pid)["VmRSS"], await sessions(admin)))
    print(f"\nsoak: {total} requests at {args.soak_rate:g}/s over {outcome.seconds:.0f} s, 1 write in {writes_every}")
    print(f"  errors {outcome.errors}   statuses {dict(sorted(outcome.statuses.items()))}")
    print(f"  p50 {outcome.p50 * 1000:.2f} ms   p99 {outcome.percentile(0.99) * 1000:.2f} ms")
    print("  t (s)   server RSS (MB)   server-side connections")
    for at, rss, count in samples:
        print(f"  {at:>5.0f}   {rss / 1024:>15.1f}   {count:>23}")
    settled = samples[len(samples) // 4 :]  # after the pool and caches have filled
    growth = (settled[-1][1] - settled[0][1]) / 1024
    connections = {count for _, _, count in samples}
    print(f"  memory from the first quarter on: {growth:+.1f} MB; connections seen: {sorted(connections)}")


async def main(args: argparse.Namespace) -> int:
    try:
        admin = await asyncpg.connect(args.url)
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"skipping bench_gateway.py: PostgreSQL at {args.url} is not reachable ({exc})")
        return 0
    servers = dict(SERVERS)
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("sqlalchemy") is None:
        print("fastapi or sqlalchemy is not installed: the FastAPI + SQLAlchemy comparison is skipped")
        del servers["fastapi+sqlalchemy"]
    schemas = {name: f"bench_gw_{secrets.token_hex(3)}" for name in servers}
    for schema in schemas.values():
        await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        for schema in schemas.values():
            await prepare(args.url, schema)
        gateway_url = with_options(args.url, schema=schemas["dataflow"], application_name=APPLICATION)
        with ExitStack() as running:
            gateway, gateway_port = running.enter_context(
                uvicorn_process("dataflow_app", gateway_url, schemas["dataflow"])
            )
            ports = {"dataflow": gateway_port}
            for name, factory in list(servers.items())[1:]:
                ports[name] = running.enter_context(uvicorn_process(factory, args.url, schemas[name]))[1]
            await request_rates(ports, args)
            await bulk(args.url, schemas["dataflow"], gateway, gateway_port, args.bulk_rows)
            if args.soak_seconds > 0:
                await soak(admin, gateway, gateway_port, args)
        left = await sessions(admin)
        for _ in range(100):  # the server has stopped: every one of its connections must be gone
            left = await sessions(admin)
            if left == 0:
                break
            await asyncio.sleep(0.05)
        print(f"  server-side connections after the gateway stopped: {left}")
    finally:
        for schema in schemas.values():
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
    return 0


if __name__ == "__main__":
    # The monitor plugin (metrics and spans per statement), where installed, is off in the gateway's process
    # (the servers it is compared with have none) and in this one (the BulkCreate node timed here pays the same).
    if importlib.util.find_spec("dataflow_monitor") is not None:
        os.environ["DATAFLOW_DISABLE_PLUGINS"] = "monitor"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--reads", type=int, default=4000, help="GET requests per server per round")
    parser.add_argument("--writes", type=int, default=2000, help="POST requests per server per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bulk-rows", type=int, default=100_000)
    parser.add_argument("--soak-seconds", type=float, default=60)
    parser.add_argument("--soak-rate", type=float, default=100, help="requests per second during the soak")
    sys.exit(asyncio.run(main(parser.parse_args())))
