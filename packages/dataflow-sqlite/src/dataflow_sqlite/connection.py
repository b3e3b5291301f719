"""An SQLite connection on a thread of its own, reached with one hop per call.

The standard library's ``sqlite3`` is synchronous; each connection gets one
worker thread and every call is a single round trip to it. Whole operations
(a bulk insert of many chunks, a measured upsert) run in one hop through
:meth:`SQLiteConnection.run`, which is where SQLite's speed is.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from dataflow.dialect import ExecuteResult

from .functions import install as install_functions

T = TypeVar("T")


class SQLiteConnection:
    """One ``sqlite3`` connection in autocommit mode; transactions are explicit."""

    def __init__(self, raw: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._raw = raw
        self._executor = executor

    @classmethod
    async def open(cls, database: str, *, uri: bool, busy_timeout: float, pragmas: Sequence[str]) -> SQLiteConnection:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataflow-sqlite")

        def connect() -> sqlite3.Connection:
            raw = sqlite3.connect(
                database, uri=uri, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            try:
                for pragma in pragmas:
                    raw.execute(pragma)
                install_functions(raw)
            except BaseException:
                raw.close()
                raise
            return raw

        try:
            raw = await asyncio.get_running_loop().run_in_executor(executor, connect)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(raw, executor)

    @property
    def raw(self) -> sqlite3.Connection:
        return self._raw

    @property
    def in_transaction(self) -> bool:
        return self._raw.in_transaction

    async def run(self, action: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``action(raw_connection)`` on the connection's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, action, self._raw)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> ExecuteResult:
        def action(raw: sqlite3.Connection) -> ExecuteResult:
            cursor = raw.execute(sql, params)
            try:
                return ExecuteResult(cursor.rowcount, cursor.lastrowid)
            finally:
                cursor.close()

        return await self.run(action)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        def action(raw: sqlite3.Connection) -> int:
            cursor = raw.executemany(sql, rows)
            try:
                return cursor.rowcount
            finally:
                cursor.close()

        return await self.run(action)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        def action(raw: sqlite3.Connection) -> list[Sequence[Any]]:
            cursor = raw.execute(sql, params)
            try:
                return cursor.fetchall()
            finally:
                cursor.close()

        return await self.run(action)

    async def fetch_named(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[Sequence[Any]]]:
        def action(raw: sqlite3.Connection) -> tuple[list[str], list[Sequence[Any]]]:
            cursor = raw.execute(sql, params)
            try:
                names = [column[0] for column in cursor.description or ()]
                return names, cursor.fetchall() if names else []
            finally:
                cursor.close()

        return await self.run(action)

    async def begin(self, isolation: str | None = None, read_only: bool = False) -> None:
        # SQLite transactions are serializable at every level. A write
        # transaction takes the write lock at once (IMMEDIATE), so that two
        # writers wait on the busy timeout instead of deadlocking on upgrade.
        await self.execute("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")

    async def commit(self) -> None:
        await self.execute("COMMIT")

    async def rollback(self) -> None:
        await self.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection on its thread, then stop the thread."""
        try:
            self._executor.submit(self._raw.close).result()
        finally:
            self._executor.shutdown(wait=True)
