"""The SQLite pool: DataFlow's generic pool over thread-backed sqlite3 connections."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from dataflow.pooling import ConnectionPool

from .connection import SQLiteConnection


class SQLitePool(ConnectionPool[SQLiteConnection]):
    """Up to ``size`` connections (one for ``:memory:``), opened on demand and kept idle for reuse."""

    def __init__(
        self, connect: Callable[[], Awaitable[SQLiteConnection]], *, size: int, timeout: float, label: str
    ) -> None:
        super().__init__(size=size, timeout=timeout, label=label)
        self._connect = connect

    async def open_connection(self) -> SQLiteConnection:
        return await self._connect()

    async def tidy(self, connection: SQLiteConnection) -> bool:
        if connection.in_transaction:
            await connection.rollback()
        return True

    async def close_connection(self, connection: SQLiteConnection) -> None:
        await asyncio.get_running_loop().run_in_executor(None, connection.close)

    def cut(self, connection: SQLiteConnection) -> None:
        connection.close()
