"""Helpers of the PostgreSQL tests: server-side facts read with a raw asyncpg connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import asyncpg

from dataflow import DataFlow, LocalRuntime, WorkflowBuilder
from dataflow.url import DatabaseURL


def plain_url(url: str) -> str:
    """``url`` without DataFlow's query options, for asyncpg."""
    return url.split("?", 1)[0]


def option(url: str, name: str) -> str:
    return DatabaseURL.parse(url).options[name]


async def fetch_async(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of ``sql`` run on a fresh connection to ``url``'s database, in its schema."""
    schema = DatabaseURL.parse(url).options.get("schema")
    settings = {"search_path": f'"{schema}"'} if schema else {}
    connection = await asyncpg.connect(plain_url(url), server_settings=settings)
    try:
        rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
        return rows
    finally:
        await connection.close()


def fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    return asyncio.run(fetch_async(url, sql, *args))


def server_connections(url: str) -> int:
    """Connections open on the server under this test's ``application_name`` (the checker excluded)."""
    rows = fetch(
        url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", option(url, "application_name")
    )
    return int(rows[0][0])


def wait_for_connections(url: str, expected: int, timeout: float = 5.0) -> int:
    """The server's count once it reaches ``expected`` (a closed socket ends its backend a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        current = server_connections(url)
        if current == expected or time.monotonic() > deadline:
            return current
        time.sleep(0.05)


def run_node(db: DataFlow, node: str, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes[node], "node", dict(params or {}))
    results, _ = LocalRuntime().execute(workflow.build(), **options)
    return results["node"]
