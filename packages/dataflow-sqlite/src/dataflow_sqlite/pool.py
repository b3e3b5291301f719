"""A pool of SQLite connections for one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from dataflow.dialect import Connection
from dataflow.errors import PoolTimeoutError

from .connection import SQLiteConnection


class SQLitePool:
    """Up to ``size`` connections, opened on demand and kept idle for reuse."""

    def __init__(
        self, connect: Callable[[], Awaitable[SQLiteConnection]], *, size: int, timeout: float, label: str
    ) -> None:
        self._connect = connect
        self._size = size
        self._timeout = timeout
        self._label = label
        self._idle: list[SQLiteConnection] = []
        self._all: set[SQLiteConnection] = set()
        self._slots = asyncio.Semaphore(size)
        self._waiting = 0
        self._closed = False

    async def acquire(self) -> SQLiteConnection:
        if self._closed:
            raise PoolTimeoutError(f"the pool of {self._label} is closed")
        if not self._slots.locked():
            await self._slots.acquire()  # free slot: no timer needed
        else:
            await self._wait_for_slot()
        if self._idle:
            return self._idle.pop()
        try:
            connection = await self._connect()
        except BaseException:
            self._slots.release()
            raise
        self._all.add(connection)
        return connection

    async def _wait_for_slot(self) -> None:
        self._waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self._timeout)
        except TimeoutError:
            raise PoolTimeoutError(
                f"no connection to {self._label} became free within {self._timeout:g}s "
                f"(pool size {self._size}); raise pool_size or pool_timeout, or release connections sooner"
            ) from None
        finally:
            self._waiting -= 1

    async def release(self, connection: Connection, *, discard: bool = False) -> None:
        assert isinstance(connection, SQLiteConnection)
        if discard or self._closed:
            self._all.discard(connection)
            await asyncio.get_running_loop().run_in_executor(None, connection.close)
        else:
            self._idle.append(connection)
        self._slots.release()

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            self._all.discard(connection)
            await asyncio.get_running_loop().run_in_executor(None, connection.close)

    def terminate(self) -> None:
        self._closed = True
        for connection in list(self._all):
            connection.close()
        self._all.clear()
        self._idle.clear()

    def state(self) -> Mapping[str, int]:
        size = len(self._all)
        return {"size": size, "in_use": size - len(self._idle), "idle": len(self._idle), "waiting": self._waiting}
