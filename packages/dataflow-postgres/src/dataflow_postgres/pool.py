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
from collections.abc import Awaitable, Callable
from typing import Any

from dataflow.pooling import ConnectionPool, socket_is_quiet

from .connection import PostgresConnection

CLOSE_TIMEOUT = 5.0
"""Seconds a graceful close or a rollback on release may take before the connection is cut."""
IDLE_LIFETIME = 300.0
"""Seconds a connection may sit idle and still be reused; older ones may have been dropped by a proxy."""


class PostgresPool(ConnectionPool[PostgresConnection]):
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
        super().__init__(size=size, timeout=timeout, label=label)
        self._connect = connect
        self._idle_since: dict[PostgresConnection, float] = {}
        if first is not None:
            self._idle_since[first] = time.monotonic()
            self.adopt(first)

    async def open_connection(self) -> PostgresConnection:
        return await self._connect()

    def usable(self, connection: PostgresConnection) -> bool:
        return not connection.raw.is_closed()

    def reusable(self, connection: PostgresConnection) -> bool:
        # A backend that was terminated while idle (pg_terminate_backend, a restart) has sent its
        # FATAL message and closed: the socket says so before asyncpg, whose loop may not have run.
        idle_since = self._idle_since.pop(connection, time.monotonic())
        return (
            self.usable(connection)
            and time.monotonic() - idle_since < IDLE_LIFETIME
            and socket_is_quiet(_socket(connection))
        )

    async def tidy(self, connection: PostgresConnection) -> bool:
        raw = connection.raw
        if raw.is_in_transaction():
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await raw.execute("ROLLBACK")
        self._idle_since[connection] = time.monotonic()
        return True

    async def close_connection(self, connection: PostgresConnection) -> None:
        await _close(connection)

    def cut(self, connection: PostgresConnection) -> None:
        self._idle_since.pop(connection, None)
        _cut(connection)


async def _close(connection: PostgresConnection) -> None:
    try:
        await connection.raw.close(timeout=CLOSE_TIMEOUT)
    except Exception:  # noqa: BLE001 - cut it instead
        _cut(connection)


def _socket(connection: PostgresConnection) -> Any:
    """The connection's socket, or None once asyncpg has let go of its transport."""
    transport = getattr(connection.raw, "_transport", None)  # no public way to reach the socket
    return transport.get_extra_info("socket") if transport is not None else None


def _cut(connection: PostgresConnection) -> None:
    """Close a connection without its event loop.

    ``terminate()`` only schedules the socket's close on the connection's
    loop, which may never run again; shutting the socket down ends the
    server's backend at once whatever the loop's state.
    """
    raw = connection.raw
    sock = _socket(connection)
    with contextlib.suppress(Exception):
        raw.terminate()
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
