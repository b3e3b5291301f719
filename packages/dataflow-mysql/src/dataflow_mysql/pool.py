"""A pool of MySQL connections bound to the event loop that made it.

aiomysql's own pool has no acquire timeout, cannot discard a connection on
release, and cannot be closed from outside its loop; DataFlow's generic pool
can, and this says how to open, check, close and cut an aiomysql connection.
A connection given back inside a transaction is closed, not reused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dataflow.pooling import ConnectionPool

from .connection import MySQLConnection


class MySQLPool(ConnectionPool[MySQLConnection]):
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
        super().__init__(size=size, timeout=timeout, label=label)
        self._connect = connect
        if first is not None:
            self.adopt(first)

    async def open_connection(self) -> MySQLConnection:
        return await self._connect()

    def usable(self, connection: MySQLConnection) -> bool:
        return connection.usable()

    def reusable(self, connection: MySQLConnection) -> bool:
        # A session killed while idle (KILL, wait_timeout, a restart) is closed by the server: the
        # socket says so before aiomysql, whose loop may not have run since (the synchronous face).
        return connection.usable() and connection.quiet()

    async def close_connection(self, connection: MySQLConnection) -> None:
        await connection.close()

    def cut(self, connection: MySQLConnection) -> None:
        connection.terminate()
