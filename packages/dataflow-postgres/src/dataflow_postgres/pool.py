"""A light pool of asyncpg connections for one event loop.

Why not ``asyncpg.Pool``: it runs a reset round trip on every release
(``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``), which
nearly doubles the cost of a one-read workflow. DataFlow never changes a
connection's session state (isolation and read-only are set per
transaction, temporary tables are dropped at commit), so a released
connection only has to be out of any transaction: one still inside one is
rolled back, or discarded when that fails.

Connections open on demand up to ``size``; waiting for a free one ends in
``PoolTimeoutError`` after ``timeout`` seconds, never in a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable, Mapping

from dataflow.dialect import Connection
from dataflow.errors import ConnectionError, PoolTimeoutError

from .connection import PostgresConnection

CLOSE_TIMEOUT = 5.0
"""Seconds a graceful close or a rollback on release may take before the connection is cut."""
IDLE_LIFETIME = 300.0
"""Seconds a connection may sit idle and still be reused; older ones may have been dropped by a proxy."""


class PostgresPool:
    """Up to ``size`` connections of one event loop, opened on demand and kept idle for reuse."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[PostgresConnection]],
        *,
        size: int,
        timeout: float,
        label: str,
        first: PostgresConnection | None = None,
    ) -> None:
        self._connect = connect
        self._size = size
        self._timeout = timeout
        self._label = label
        self._loop = asyncio.get_running_loop()
        self._idle: list[tuple[PostgresConnection, float]] = []
        self._all: set[PostgresConnection] = set()
        self._slots = asyncio.Semaphore(size)
        self._waiting = 0
        self._closed = False
        self._returned = asyncio.Event()
        if first is not None:
            self._all.add(first)
            self._idle.append((first, time.monotonic()))

    async def acquire(self) -> PostgresConnection:
        if self._closed:
            raise ConnectionError(f"the connection pool of {self._label} is closed")
        if asyncio.get_running_loop() is not self._loop:
            raise ConnectionError(f"the connection pool of {self._label} belongs to another event loop")
        if self._slots.locked():
            await self._wait_for_slot()
        else:
            await self._slots.acquire()  # free: returns without suspending
        try:
            while self._idle:
                connection, released = self._idle.pop()
                if not connection.raw.is_closed() and time.monotonic() - released < IDLE_LIFETIME:
                    return connection
                self._all.discard(connection)
                _cut(connection)  # no goodbye round trip: the other end may be gone
            connection = await self._connect()
        except BaseException:
            self._slots.release()
            raise
        self._all.add(connection)
        return connection

    async def _wait_for_slot(self) -> None:
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

    async def release(self, connection: Connection, *, discard: bool = False) -> None:
        assert isinstance(connection, PostgresConnection)
        try:
            raw = connection.raw
            if not discard and not self._closed and not raw.is_closed() and raw.is_in_transaction():
                try:
                    async with asyncio.timeout(CLOSE_TIMEOUT):
                        await raw.execute("ROLLBACK")
                except Exception:  # noqa: BLE001 - a connection that cannot roll back is not reused
                    discard = True
            if discard or self._closed or raw.is_closed():
                self._all.discard(connection)
                await _close(connection)
            else:
                self._idle.append((connection, time.monotonic()))
        finally:
            self._slots.release()
            self._returned.set()

    async def close(self) -> None:
        """Close idle connections now and the others as they come back (cut after ``CLOSE_TIMEOUT``)."""
        self._closed = True
        idle, self._idle = [connection for connection, _ in self._idle], []
        for connection in idle:
            self._all.discard(connection)
        await asyncio.gather(*(_close(connection) for connection in idle))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                while self._all:
                    self._returned.clear()
                    await self._returned.wait()
        self.terminate()

    def terminate(self) -> None:
        """Cut every connection at once; safe when the pool's loop is stopped or closed."""
        self._closed = True
        for connection in list(self._all):
            _cut(connection)
        self._all.clear()
        self._idle.clear()

    def state(self) -> Mapping[str, int]:
        size = len(self._all)
        idle = len(self._idle)
        return {"size": size, "in_use": size - idle, "idle": idle, "waiting": self._waiting}


async def _close(connection: PostgresConnection) -> None:
    try:
        await connection.raw.close(timeout=CLOSE_TIMEOUT)
    except Exception:  # noqa: BLE001 - cut it instead
        _cut(connection)


def _cut(connection: PostgresConnection) -> None:
    """Close a connection without its event loop.

    ``terminate()`` only schedules the socket's close on the connection's
    loop, which may never run again; shutting the socket down ends the
    server's backend at once whatever the loop's state.
    """
    raw = connection.raw
    transport = getattr(raw, "_transport", None)  # no public way to reach the socket
    sock = transport.get_extra_info("socket") if transport is not None else None
    with contextlib.suppress(Exception):
        raw.terminate()
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
