"""A small connection pool for one event loop, for dialects to build on.

Drivers' own pools either reset every connection on release (a round trip
DataFlow does not need: it never changes session state), or cannot time out
an acquire, discard a broken connection, or be closed from outside their
loop. This one does all four, and a dialect supplies only how to open, check,
tidy, close and cut one of its connections.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Mapping
from typing import Generic, TypeVar

from .dialect import Connection
from .errors import ConnectionError, PoolTimeoutError

C = TypeVar("C", bound=Connection)

CLOSE_TIMEOUT = 5.0
"""Seconds a graceful close waits for connections in use to come back before cutting them."""


class ConnectionPool(abc.ABC, Generic[C]):
    """Up to ``size`` connections of the running event loop, opened on demand, reused while idle."""

    def __init__(self, *, size: int, timeout: float, label: str) -> None:
        self.size = size
        self.timeout = timeout
        self.label = label
        self.loop = asyncio.get_running_loop()
        self._idle: list[C] = []
        self._in_use: set[C] = set()
        self._slots = asyncio.Semaphore(size)
        self._returned = asyncio.Event()
        self._waiting = 0
        self.closed = False

    # -- what a dialect provides ------------------------------------------------------

    @abc.abstractmethod
    async def open_connection(self) -> C:
        """A new connection, ready for use."""

    def usable(self, connection: C) -> bool:
        """Is the connection still open and in a known state?"""
        return True

    def reusable(self, connection: C) -> bool:
        """May an idle connection be handed out again? Adds, say, a limit on idle time to :meth:`usable`."""
        return self.usable(connection)

    async def tidy(self, connection: C) -> bool:
        """Make a returned connection fit for the next user; False discards it."""
        return not connection.in_transaction

    async def close_connection(self, connection: C) -> None:
        """Close gracefully (a goodbye round trip where the protocol has one)."""
        self.cut(connection)

    @abc.abstractmethod
    def cut(self, connection: C) -> None:
        """Close at once, without the event loop (which may be stopped or closed)."""

    def adopt(self, connection: C) -> None:
        """Add an open connection as idle (the one a dialect used to learn the server's version)."""
        self._idle.append(connection)

    # -- the Pool protocol ----------------------------------------------------------------

    async def acquire(self) -> C:
        if self.closed:
            raise ConnectionError(f"the connection pool of {self.label} is closed")
        if asyncio.get_running_loop() is not self.loop:
            raise ConnectionError(f"the connection pool of {self.label} belongs to another event loop")
        if self._slots.locked():
            await self._wait_for_slot()
        else:
            await self._slots.acquire()  # a free slot: returns without suspending
        try:
            connection = await self._take()
        except BaseException:
            self._slots.release()
            raise
        self._in_use.add(connection)
        return connection

    async def _take(self) -> C:
        while self._idle:
            connection = self._idle.pop()
            if self.reusable(connection):
                return connection
            self.cut(connection)
        return await self.open_connection()

    async def _wait_for_slot(self) -> None:
        self._waiting += 1
        try:
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolTimeoutError(
                f"no connection to {self.label} became free within {self.timeout:g}s "
                f"(pool size {self.size}); raise pool_size or pool_timeout, or release connections sooner"
            ) from None
        finally:
            self._waiting -= 1

    async def release(self, connection: Connection, *, discard: bool = False) -> None:
        if connection not in self._in_use:
            return  # not ours, or already given back
        mine = connection  # narrowed to C by the membership test
        self._in_use.discard(mine)
        try:
            keep = not discard and not self.closed and self.usable(mine)
            if keep:
                try:
                    keep = await self.tidy(mine)
                except Exception:  # noqa: BLE001 - a connection that cannot be tidied is not reused
                    keep = False
            if keep:
                self._idle.append(mine)
            elif discard or not self.usable(mine):
                self.cut(mine)
            else:
                await self.close_connection(mine)
        finally:
            self._slots.release()
            self._returned.set()

    async def close(self) -> None:
        """Close idle connections now and the others as they come back (cut after ``CLOSE_TIMEOUT``)."""
        self.closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self.close_connection(c) for c in idle), return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                while self._in_use:
                    self._returned.clear()
                    await self._returned.wait()
        self.terminate()

    def terminate(self) -> None:
        """Cut every connection at once; safe when the pool's loop is stopped or closed."""
        self.closed = True
        for connection in [*self._idle, *self._in_use]:
            with contextlib.suppress(Exception):
                self.cut(connection)
        self._idle.clear()
        self._in_use.clear()

    def state(self) -> Mapping[str, int]:
        in_use, idle = len(self._in_use), len(self._idle)
        return {"size": in_use + idle, "in_use": in_use, "idle": idle, "waiting": self._waiting}
