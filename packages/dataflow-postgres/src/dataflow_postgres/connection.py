"""One asyncpg connection behind DataFlow's ``Connection`` protocol.

Statements with parameters go through asyncpg's prepared-statement cache
(the extended protocol); transaction control without parameters goes as
simple queries. Row counts come from the server's command tags.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dataflow.dialect import ExecuteResult
from dataflow.errors import TransactionError

if TYPE_CHECKING:
    import asyncpg

_ISOLATION_SQL = {
    "read uncommitted": "READ UNCOMMITTED",
    "read committed": "READ COMMITTED",
    "repeatable read": "REPEATABLE READ",
    "serializable": "SERIALIZABLE",
}

_DML = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


def rowcount(status: str | None) -> int:
    """Rows affected from a command tag: ``"UPDATE 3"`` -> 3, ``"INSERT 0 5"`` -> 5; -1 when it has none."""
    if not status:
        return -1
    last = status.rpartition(" ")[2]
    return int(last) if last.isdigit() else -1


def begin_sql(isolation: str | None, read_only: bool) -> str:
    sql = "BEGIN"
    if isolation is not None:
        sql += " ISOLATION LEVEL " + _ISOLATION_SQL[isolation]
    if read_only:
        sql += " READ ONLY"
    return sql


class PostgresConnection:
    """An asyncpg connection; raises asyncpg's errors.

    Statements on one connection are serialized by :attr:`guard`, and a
    ``BEGIN`` counts as a transaction from the moment it is sent. The core
    promises one task at a time, but a transactional run publishes its
    session while its ``BEGIN`` is still on the wire, so a second root node
    may start at once: asyncpg would refuse its statement ("another
    operation is in progress"), and a bulk node's ``atomic()`` would see no
    transaction and open (and commit) its own. With both, the node waits for
    the ``BEGIN`` and runs inside the run's transaction, on a savepoint.
    Strategies that use :attr:`raw` directly hold the guard meanwhile.
    """

    __slots__ = ("_beginning", "_raw", "guard")

    def __init__(self, raw: asyncpg.Connection) -> None:
        self._raw = raw
        self._beginning = False
        self.guard = asyncio.Lock()

    @property
    def raw(self) -> asyncpg.Connection:
        return self._raw

    @property
    def in_transaction(self) -> bool:
        return self._beginning or bool(self._raw.is_in_transaction())

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> ExecuteResult:
        async with self.guard:
            status = await self._raw.execute(sql, *params)
        return ExecuteResult(rowcount(status))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``sql`` for every row in one pipelined round trip, and count the rows it touched.

        asyncpg's ``executemany`` reports no count, so a DML statement
        without RETURNING gets ``RETURNING 1`` and the returned rows are
        counted; other statements run once per row.
        """
        if not rows:
            return 0
        async with self.guard:
            if _DML.match(sql) and not _RETURNING.search(sql):
                returned = await self._raw.fetchmany(sql.rstrip().rstrip(";") + " RETURNING 1", rows)
                return len(returned)
            total = 0
            for row in rows:
                total += max(rowcount(await self._raw.execute(sql, *row)), 0)
            return total

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        async with self.guard:
            rows: list[Sequence[Any]] = await self._raw.fetch(sql, *params)
        return rows

    async def fetch_named(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[Sequence[Any]]]:
        async with self.guard:
            statement = await self._raw.prepare(sql)
            names = [attribute.name for attribute in statement.get_attributes()]
            if not names:
                await statement.fetch(*params)
                return [], []
            rows: list[Sequence[Any]] = await statement.fetch(*params)
        return names, rows

    async def begin(self, isolation: str | None = None, read_only: bool = False) -> None:
        self._beginning = True
        try:
            async with self.guard:
                await self._raw.execute(begin_sql(isolation, read_only))
        finally:
            self._beginning = False

    async def commit(self) -> None:
        async with self.guard:
            status = await self._raw.execute("COMMIT")
        if status == "ROLLBACK":
            # The server answers COMMIT of a transaction that an error aborted with a rollback.
            raise TransactionError("the transaction was rolled back: a statement in it had failed")

    async def rollback(self) -> None:
        async with self.guard:
            await self._raw.execute("ROLLBACK")


def driver(connection: Any) -> PostgresConnection:
    """``connection`` as a :class:`PostgresConnection` (what bulk strategies receive from ``Session.call``)."""
    assert isinstance(connection, PostgresConnection)
    return connection
