"""An SQLite connection on a thread of its own, reached with one hop per call.

The standard library's ``sqlite3`` is synchronous; each connection gets one
worker thread and every call is a single round trip to it. Whole operations
(a bulk insert of many chunks, a measured upsert, a program of statements)
run in one hop through :meth:`SQLiteConnection.run`, which is where SQLite's
speed is. ``BEGIN`` and queued reads wait for the next hop and run at its start.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from dataflow.batches import Program, Step
from dataflow.dialect import ExecuteResult

from .functions import install as install_functions

T = TypeVar("T")


class _Queued:
    """A queued read: its rows once the hop that ran it is back, or the error that stopped it."""

    __slots__ = ("error", "params", "rows", "sql")

    def __init__(self, sql: str, params: Sequence[Any]) -> None:
        self.sql, self.params = sql, params
        self.rows: list[Any] | None = None
        self.error: BaseException | None = None

    def run(self, raw: sqlite3.Connection) -> None:
        self.rows = _fetch(raw, Step(self.sql, self.params))


class _QueuedProgram(_Queued):
    """A queued program whose result nobody waits for (its errors fail the hop that runs it)."""

    __slots__ = ("first", "program")

    def __init__(self, first: Step, program: Program[Any]) -> None:
        super().__init__(first.sql, first.params)
        self.first, self.program = first, program

    def run(self, raw: sqlite3.Connection) -> None:
        _run_steps(raw, self.first, self.program)
        self.rows = []


def _execute(raw: sqlite3.Connection, step: Step) -> ExecuteResult:
    cursor = raw.execute(step.sql, step.params)
    try:
        return ExecuteResult(cursor.rowcount, cursor.lastrowid)
    finally:
        cursor.close()


def _fetch(raw: sqlite3.Connection, step: Step) -> list[Any]:
    cursor = raw.execute(step.sql, step.params)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def _executemany(raw: sqlite3.Connection, step: Step) -> int:
    cursor = raw.executemany(step.sql, step.params)
    try:
        return cursor.rowcount
    finally:
        cursor.close()


STEPS: dict[str, Callable[[sqlite3.Connection, Step], Any]] = {
    "execute": _execute, "fetch": _fetch, "executemany": _executemany
}  # fmt: skip


def _run_steps(raw: sqlite3.Connection, first: Step, program: Program[T]) -> T:
    step = first
    while True:
        outcome = STEPS[step.kind](raw, step)
        try:
            step = program.send(outcome)
        except StopIteration as stop:
            result: T = stop.value
            return result


FUSED_SAVEPOINT = '"dataflow_atomic_program"'


def _run_atomically(raw: sqlite3.Connection, first: Step, program: Program[T]) -> T:
    """The program all or nothing: a write transaction of its own, or a savepoint inside the open one."""
    own = not raw.in_transaction
    raw.execute("BEGIN IMMEDIATE" if own else f"SAVEPOINT {FUSED_SAVEPOINT}")
    try:
        result = _run_steps(raw, first, program)
        raw.execute("COMMIT" if own else f"RELEASE {FUSED_SAVEPOINT}")
    except BaseException:
        # Some errors (a full disk, an interrupt) end the transaction by themselves: nothing left to undo then.
        if raw.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                if own:
                    raw.execute("ROLLBACK")
                else:
                    raw.execute(f"ROLLBACK TO {FUSED_SAVEPOINT}")
                    raw.execute(f"RELEASE {FUSED_SAVEPOINT}")
        raise
    return result


class SQLiteConnection:
    """One ``sqlite3`` connection in autocommit mode; transactions are explicit."""

    def __init__(self, raw: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._raw = raw
        self._executor = executor
        self._begin: str | None = None
        """A BEGIN not sent yet: it runs at the start of the next hop (a hop saved per transaction)."""
        self._queued: list[_Queued] = []

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
        return self._begin is not None or self._raw.in_transaction

    async def run(self, action: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``action(raw_connection)`` on the connection's thread, after the BEGIN and reads waiting for a hop."""
        loop = asyncio.get_running_loop()
        if self._begin is None and not self._queued:
            return await loop.run_in_executor(self._executor, action, self._raw)
        begin, queued = self._begin, self._queued
        self._queued = []

        def first_the_waiting(raw: sqlite3.Connection) -> T:
            if begin is not None:
                raw.execute(begin)
            for read in queued:
                try:
                    read.run(raw)
                except BaseException as error:
                    read.error = error
                    raise
            return action(raw)

        try:
            return await loop.run_in_executor(self._executor, first_the_waiting, self._raw)
        finally:
            self._begin = None
            for read in queued:
                if read.rows is None and read.error is None:
                    read.error = sqlite3.OperationalError("the statement before this queued read failed")

    def queue_fetch(self, sql: str, params: Sequence[Any] = ()) -> Callable[[], Awaitable[list[Any]]]:
        """Queue a read for the start of the next hop; the returned coroutine function gives its rows.

        Asked for before another hop ran it, it makes a hop of its own.
        """
        read = _Queued(sql, params)
        self._queued.append(read)

        async def rows() -> list[Any]:
            if read.rows is None and read.error is None:
                await self.run(lambda raw: None)
            if read.error is not None:
                raise read.error
            assert read.rows is not None
            return read.rows

        return rows

    async def run_program(self, first: Step, program: Program[T]) -> T:
        """Run ``first`` and every step ``program`` yields after it, in one hop (see :mod:`dataflow.batches`)."""
        return await self.run(lambda raw: _run_steps(raw, first, program))

    async def run_atomic_program(self, first: Step, program: Program[T]) -> T:
        """:meth:`run_program` all or nothing, in the same one hop: with BEGIN IMMEDIATE and COMMIT
        outside a transaction, in a savepoint inside one (whose BEGIN, if still waiting, goes first)."""
        return await self.run(lambda raw: _run_atomically(raw, first, program))

    def queue_program(self, first: Step, program: Program[Any]) -> None:
        """Queue a program for the start of the next hop (the COMMIT's, at the latest)."""
        self._queued.append(_QueuedProgram(first, program))

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
        # Sent with the transaction's first statement, in its hop.
        self._begin = "BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE"

    async def commit(self) -> None:
        if self._begin is not None and not self._queued:
            self._begin = None  # nothing ran in the transaction: nothing to commit
            return
        await self.execute("COMMIT")

    async def rollback(self) -> None:
        # What waits for a hop is dropped: a rolled back transaction has no use for it.
        for read in self._queued:
            read.error = sqlite3.OperationalError("the transaction of this queued statement was rolled back")
        self._queued = []
        if self._begin is not None:
            self._begin = None  # the BEGIN never went: nothing ran, so nothing to roll back
            return
        await self.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection on its thread, then stop the thread."""
        try:
            self._executor.submit(self._raw.close).result()
        finally:
            self._executor.shutdown(wait=True)
