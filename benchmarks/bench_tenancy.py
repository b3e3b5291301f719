"""The cost of tenancy on a one-node ReadNode workflow, measured against the same workflow without it.

python benchmarks/bench_tenancy.py [--reads 3000] [--url postgresql://.../db?schema=bench ...]

Without ``--url`` it runs on a temporary SQLite file; each ``--url`` must name an
empty database (or PostgreSQL schema) on a server. Four variants read the same
row shape by primary key, interleaved in rounds so that drift hits them alike:

- no tenancy: a DataFlow created while the tenancy plugin is unregistered;
- plugin loaded, model not tenant-scoped: the filter is consulted and says no;
- tenant-scoped model, ``execute_async(..., tenant=...)``;
- tenant-scoped model, inside ``async with db.tenant(...)``.

Time is the median per workflow; overhead is against "no tenancy" (target <= 10%).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from common import node, without_plugin

import dataflow_tenancy.plugin
from dataflow import AsyncLocalRuntime, DataFlow
from dataflow_tenancy import Tenancy

ROWS = 1000
TENANTS = ("acme", "globex")


def define(db: DataFlow, *, tenant_scoped: bool) -> str:
    """A five-column model like the other benchmarks' ``Item``; returns its name."""
    if tenant_scoped:

        @db.model
        class TenantItem:
            sku: str
            name: str
            qty: int
            price: float
            active: bool
            __dataflow__ = {"multi_tenant": True, "unique": [("sku",)], "table": "bench_tenant_item"}

        return "TenantItem"

    @db.model
    class PlainItem:
        sku: str
        name: str
        qty: int
        price: float
        active: bool
        __dataflow__ = {"unique": [("sku",)], "table": "bench_plain_item"}

    return "PlainItem"


def rows(prefix: str) -> list[dict[str, Any]]:
    return [
        {"sku": f"{prefix}-{i}", "name": f"item {i}", "qty": i % 100, "price": i * 0.5, "active": i % 2 == 0}
        for i in range(ROWS)
    ]


def untenanted(url: str) -> DataFlow:
    """A DataFlow made while the tenancy plugin is unregistered: no filter at all."""
    return without_plugin(url, "tenancy", dataflow_tenancy.plugin)


async def medians(variants: dict[str, Callable[[], Awaitable[object]]], reads: int) -> dict[str, float]:
    """Median seconds per call of each variant, run in interleaved rounds of 50 calls."""
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for action in variants.values():  # warm-up: pools, statement caches
        for _ in range(50):
            await action()
    for _ in range(max(1, reads // 50)):
        for name, action in variants.items():
            for _ in range(50):
                started = time.perf_counter()
                await action()
                timings[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in timings.items()}


async def bench(url: str, reads: int) -> None:
    runtime = AsyncLocalRuntime()
    plain = untenanted(url)
    tenanted = DataFlow(url)
    plain_model = define(plain, tenant_scoped=False)
    same_model = define(tenanted, tenant_scoped=False)
    tenant_model = define(tenanted, tenant_scoped=True)
    try:
        await runtime.execute_async(node(plain, f"{plain_model}BulkCreateNode", {"data": rows("p")}))
        for tenant in TENANTS:
            seed = node(tenanted, f"{tenant_model}BulkCreateNode", {"data": rows(tenant)})
            await runtime.execute_async(seed, tenant=tenant)
        listed, _ = await runtime.execute_async(node(plain, f"{plain_model}ListNode", {"limit": 1}))
        plain_key = listed["n"]["records"][0]["id"]
        listed, _ = await runtime.execute_async(node(tenanted, f"{tenant_model}ListNode", {"limit": 1}), tenant="acme")
        tenant_key = listed["n"]["records"][0]["id"]

        read_plain = node(plain, f"{plain_model}ReadNode", {"id": plain_key}).build()
        read_same = node(tenanted, f"{same_model}ReadNode", {"id": plain_key}).build()
        read_tenant = node(tenanted, f"{tenant_model}ReadNode", {"id": tenant_key}).build()

        async def in_block() -> object:
            async with Tenancy.of(tenanted).tenant("acme"):
                return await runtime.execute_async(read_tenant)

        variants: dict[str, Callable[[], Awaitable[object]]] = {
            "no tenancy (plugin unregistered)": lambda: runtime.execute_async(read_plain),
            "plugin loaded, model not tenant-scoped": lambda: runtime.execute_async(read_same),
            "tenant-scoped, execute(tenant=...)": lambda: runtime.execute_async(read_tenant, tenant="acme"),
            "tenant-scoped, async with db.tenant()": in_block,
        }
        result = await medians(variants, reads)
        base = result["no tenancy (plugin unregistered)"]
        print(f"\n{plain.dialect.name}: one-node ReadNode workflow, median of {reads:,} per variant")
        print(f"{'variant':<42} {'median':>10} {'overhead':>9}")
        for name, seconds in result.items():
            print(f"{name:<42} {seconds * 1e6:>8.0f}us {(seconds / base - 1) * 100:>8.1f}%")
    finally:
        for db, model in ((tenanted, tenant_model), (plain, plain_model)):
            session = await db.open_session(context={"tenant_admin": "benchmark cleanup"})
            try:
                await session.execute(f"DROP TABLE IF EXISTS {db.dialect.quote(db.schema(model).table)}")
            finally:
                await db.close_session(session)
        await tenanted.close_async()
        await plain.close_async()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--url", action="append", default=[], help="an empty server database (repeatable)")
    args = parser.parse_args()
    if args.url:
        for url in args.url:
            asyncio.run(bench(url, args.reads))
        return
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(bench(f"sqlite:///{Path(directory) / 'tenancy.db'}", args.reads))


if __name__ == "__main__":
    main()
