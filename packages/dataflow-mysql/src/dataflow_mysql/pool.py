"""A pool of MySQL connections bound to the event loop that made it.

aiomysql's own pool has no acquire timeout, cannot discard a connection on
release, and cannot be closed from outside its loop; this one is a small
semaphore over a list of idle connections that can.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from dataflow.dialect import Connection
from dataflow.errors import ConnectionError, PoolTimeoutError

from .connection import MySQLConnection


class MySQLPool:
    """Up to ``size`` connections, opened on demand and kept idle for reuse."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[MySQLConnection]],
        *,
        size: int,
        timeout: float,
        label: str,
        first: MySQLConnection | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self._connect = connect
        self._size = size
        self._timeout = timeout
        self._label = label
        self._idle: list[MySQLConnection] = []
        self._in_use: set[MySQLConnection] = set()
        self._slots = asyncio.Semaphore(size)
        self._returned = asyncio.Event()
        self._waiting = 0
        self._closed = False
        if first is not None:
            self._idle.append(first)

    async def acquire(self) -> MySQLConnection:
        if self._closed:
            raise ConnectionError(f"the connection pool of {self._label} is closed")
        if asyncio.get_running_loop() is not self.loop:
            raise ConnectionError(f"the connection pool of {self._label} belongs to another event loop")
        if self._slots.locked():
            self._waiting += 1
            try:
                async with asyncio.timeout(self._timeout):
                    await self._slots.acquire()
            except TimeoutError:
                raise PoolTimeoutError(
                    f"no connection to {self._label} became free within {self._timeout:g}s "
                    f"(pool size {self._size}); raise pool_size or pool_timeout, or release connections sooner"
                ) from None
            finally:
                self._waiting -= 1
        else:
            await self._slots.acquire()
        try:
            connection = await self._take()
        except BaseException:
            self._slots.release()
            raise
        self._in_use.add(connection)
        return connection

    async def _take(self) -> MySQLConnection:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable():
                return connection
            connection.terminate()
        return await self._connect()

    async def release(self, connection: Connection, *, discard: bool = False) -> None:
        if not isinstance(connection, MySQLConnection) or connection not in self._in_use:
            return
        self._in_use.discard(connection)
        try:
            if discard or self._closed or connection.in_transaction or not connection.usable():
                if discard or not connection.usable():
                    connection.terminate()
                else:
                    await connection.close()
            else:
                self._idle.append(connection)
        finally:
            self._slots.release()
            self._returned.set()

    async def close(self) -> None:
        """Close idle connections now and the others as they come back (at most ``timeout`` seconds later)."""
        self._closed = True
        await self._close_idle()
        try:
            async with asyncio.timeout(self._timeout):
                while self._in_use:
                    self._returned.clear()
                    await self._returned.wait()
        except TimeoutError:
            pass
        self.terminate()

    async def _close_idle(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(connection.close() for connection in idle))

    def terminate(self) -> None:
        self._closed = True
        for connection in [*self._idle, *self._in_use]:
            connection.terminate()
        self._idle.clear()
        self._in_use.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    def state(self) -> Mapping[str, int]:
        in_use, idle = len(self._in_use), len(self._idle)
        return {"size": in_use + idle, "in_use": in_use, "idle": idle, "waiting": self._waiting}
