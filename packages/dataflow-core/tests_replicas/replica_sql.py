"""SQL and waiting helpers the replica tests share: plain functions, imported by name (never from conftest)."""

from __future__ import annotations

import time
from typing import Any

import asyncpg


async def pg_execute(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def pg_fetch(url: str, sql: str, *args: Any) -> list[Any]:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


def wait_until(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "replication did not catch up"
        time.sleep(0.05)
