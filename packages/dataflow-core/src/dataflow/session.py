"""A run's use of one database: one connection, its transaction, its events.

Every statement a node issues goes through a :class:`Session`, which turns
driver errors into DataFlow's errors, reports statements to monitors, and
applies tenancy filters. Nodes sharing a session take its ``lock`` for their
whole run, so that their statements (and savepoints) never interleave on the
one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypeVar

from .batches import Program, Step
from .dialect import Connection, ExecuteResult, Pool
from .echo import sql_log
from .errors import ConnectionError, DataFlowError, TransactionError
from .events import StatementExecuted, TransactionFinished, emit
from .schema import ModelSchema
from .scoping import TenancyScope
from .sql import TableSQL

if TYPE_CHECKING:
    from .database import DataFlow

T = TypeVar("T")


class Session(TenancyScope):
    """One connection of one database, held for one workflow run (its tenancy methods: :class:`TenancyScope`)."""

    def __init__(
        self, db: DataFlow, connection: Connection, *, run_id: str | None, context: Mapping[str, Any], pool: Pool
    ) -> None:
        self.db = db
        self.label = db.label
        """The database as errors and monitors name it (a replica session names its replica)."""
        self.pool = pool
        self.dialect = db.dialect
        self.connection = connection
        self.run_id = run_id
        self.context = context
        self.lock = asyncio.Lock()
        self.broken = False
        self.wrote = False
        """Something that may write ran here: closing the session notes how far the writes reached
        (read-your-writes, :mod:`dataflow.routing`)."""
        self.transaction_setup: tuple[str, Sequence[Any]] | None = None
        """SQL and values run right after every BEGIN (a session hook's per-transaction state where sessions keep
        none: tenancy behind PgBouncer); with it, a statement outside a transaction gets a transaction of its own."""
        self._monitors = db.monitors
        self._echo = db.config.echo
        self._savepoints = 0

    def table(self, schema: ModelSchema) -> TableSQL:
        return self.db.table_sql(schema)

    # -- statements -------------------------------------------------------------

    async def execute(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        schema: ModelSchema | None = None,
        operation: str | None = None,
        key: Any = None,
    ) -> ExecuteResult:
        if self._monitors or self._echo or self.broken or self.transaction_setup is not None:
            result: ExecuteResult = await self.call(
                lambda conn: conn.execute(sql, params), sql=sql, schema=schema, operation=operation, key=key
            )
            return result
        # Nothing to report and no per-transaction setup: what call() does, two coroutines shorter (a one-statement
        # node's whole run).
        try:
            return await self.connection.execute(sql, params)
        except DataFlowError:
            raise
        except Exception as exc:
            raise self._translated(exc, schema) from exc

    async def executemany(
        self,
        sql: str,
        rows: Sequence[Sequence[Any]],
        *,
        schema: ModelSchema | None = None,
        operation: str | None = None,
    ) -> int:
        count: int = await self.call(
            lambda conn: conn.executemany(sql, rows), sql=sql, schema=schema, operation=operation
        )
        return count

    async def fetch(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        schema: ModelSchema | None = None,
        operation: str | None = None,
        key: Any = None,
    ) -> list[Sequence[Any]]:
        if self._monitors or self._echo or self.broken or self.transaction_setup is not None:
            rows: list[Sequence[Any]] = await self.call(
                lambda conn: conn.fetch(sql, params), sql=sql, schema=schema, operation=operation, key=key
            )
            return rows
        try:  # as in execute()
            return await self.connection.fetch(sql, params)
        except DataFlowError:
            raise
        except Exception as exc:
            raise self._translated(exc, schema) from exc

    async def fetch_named(
        self, sql: str, params: Sequence[Any] = (), *, operation: str | None = None
    ) -> tuple[list[str], list[Sequence[Any]]]:
        """Any statement's column names and rows (raw SQL, whose columns DataFlow does not know)."""
        result: tuple[list[str], list[Sequence[Any]]] = await self.call(
            lambda conn: conn.fetch_named(sql, params), sql=sql, operation=operation
        )
        return result

    async def prefetch(
        self, sql: str, params: Sequence[Any] = (), *, schema: ModelSchema | None = None, operation: str | None = None
    ) -> Callable[[], Awaitable[list[Sequence[Any]]]]:
        """A read whose rows are wanted later; returns the coroutine function that gives them.

        The read runs before any statement issued after this call. A connection that
        can queue it (``queue_fetch``: SQLite's, which then runs it in the same hop
        as the next statement) does so; any other runs it now.
        """
        queue = getattr(self.connection, "queue_fetch", None)
        if queue is None or self._echo:
            rows = await self.fetch(sql, params, schema=schema, operation=operation)

            async def ready() -> list[Sequence[Any]]:
                return rows

            return ready
        pending = queue(sql, params)

        async def queued() -> list[Sequence[Any]]:
            rows: list[Sequence[Any]] = await self.call(lambda conn: pending(), sql=sql, schema=schema,
                                                        operation=operation)  # fmt: skip
            return rows

        return queued

    async def run_program(self, program: Program[T], *, schema: ModelSchema | None = None,
                          operation: str | None = None) -> T:  # fmt: skip
        """Run the steps ``program`` yields (see :mod:`dataflow.batches`); return what it returns.

        A connection with ``run_program`` (SQLite's) runs them all in one call; on the
        others each step is a statement of its own, reported as usual.
        """
        try:
            step = next(program)
        except StopIteration as stop:
            done: T = stop.value
            return done
        return await self._run_steps(step, program, schema, operation)

    async def run_program_later(self, program: Program[None], *, operation: str | None = None) -> None:
        """Run ``program``, whose result nobody needs, before the next statement of this session.

        Inside a transaction a connection that can queue it (``queue_program``: SQLite's)
        runs it at the start of its next hop, the COMMIT's at the latest; an error in it
        then fails that statement, and :meth:`atomic` rolls back. Any other connection
        runs it now.
        """
        queue = getattr(self.connection, "queue_program", None)
        if queue is None or self._echo or not self.in_transaction:
            await self.run_program(program, operation=operation)
            return
        try:
            step = next(program)
        except StopIteration:
            return
        queue(step, program)

    async def _run_steps(self, step: Step, program: Program[T], schema: ModelSchema | None, operation: str | None) -> T:
        runner = getattr(self.connection, "run_program", None)
        if runner is not None:
            result: T = await self.call(lambda conn: runner(step, program), sql=step.sql, schema=schema,
                                        operation=operation)  # fmt: skip
            return result
        runs: dict[str, Callable[..., Awaitable[Any]]] = {
            "execute": self.execute, "fetch": self.fetch, "executemany": self.executemany
        }  # fmt: skip
        while True:
            outcome = await runs[step.kind](step.sql, step.params, schema=schema, operation=operation)
            try:
                step = program.send(outcome)
            except StopIteration as stop:
                finished: T = stop.value
                return finished

    def call(
        self,
        action: Callable[[Connection], Awaitable[T]],
        *,
        sql: str,
        schema: ModelSchema | None = None,
        operation: str | None = None,
        key: Any = None,
    ) -> Awaitable[T]:
        """Run ``action`` on the connection, translating errors and reporting the statement.

        Bulk strategies use this to reach the driver directly (COPY and the like).
        ``key`` is the primary key of the one record the statement reads or
        writes by key, for monitors (never a value from the record). Not a
        coroutine itself: the common statement pays no extra frame.
        """
        if self.transaction_setup is not None and not self.connection.in_transaction:
            return self._in_own_transaction(action, sql=sql, schema=schema, operation=operation, key=key)
        return self._call(action, sql=sql, schema=schema, operation=operation, key=key)

    async def _in_own_transaction(self, action: Callable[[Connection], Awaitable[T]], **statement: Any) -> T:
        async with self.atomic():  # whose BEGIN runs transaction_setup
            result: T = await self._call(action, **statement)
            return result

    async def _call(
        self,
        action: Callable[[Connection], Awaitable[T]],
        *,
        sql: str,
        schema: ModelSchema | None = None,
        operation: str | None = None,
        key: Any = None,
    ) -> T:
        if self.broken:
            raise ConnectionError(f"the connection to {self.label} was lost earlier in this run")
        if self._echo:
            sql_log.info("%s", sql)
        started = perf_counter()
        try:
            result = await action(self.connection)
        except DataFlowError as exc:
            # Raised by our own code mid-statement (a bad row found while COPY streams): the statement failed.
            if self._monitors:
                self._report(sql, started, None, schema, operation, exc, key)
            raise
        except Exception as exc:
            error = self._translated(exc, schema)
            if self._monitors:
                self._report(sql, started, None, schema, operation, error, key)
            raise error from exc
        if self._monitors:
            if isinstance(result, ExecuteResult):
                rowcount: int | None = result.rowcount
            elif isinstance(result, list):  # fetch: the rows read
                rowcount = len(result)
            elif isinstance(result, int):  # executemany: the rows written
                rowcount = int(result)
            else:
                rowcount = None
            self._report(sql, started, rowcount, schema, operation, None, key)
        return result

    def _translated(self, exc: Exception, schema: ModelSchema | None) -> DataFlowError:
        """The driver's error as DataFlow's; a lost connection marks the session broken."""
        error = self.dialect.translate_error(exc, schema)
        if isinstance(error, ConnectionError):
            self.broken = True
        return error

    def _report(
        self,
        sql: str,
        started: float,
        rowcount: int | None,
        schema: ModelSchema | None,
        operation: str | None,
        error: DataFlowError | None,
        key: Any = None,
    ) -> None:
        emit(
            self._monitors,
            StatementExecuted(
                database=self.label,
                sql=sql,
                duration=perf_counter() - started,
                rowcount=rowcount,
                model=schema.name if schema else None,
                operation=operation,
                run_id=self.run_id,
                error=type(error).__name__ if error else None,
                key=key,
            ),
        )

    # -- transactions -----------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        return self.connection.in_transaction

    async def begin(self, isolation: str | None = None, read_only: bool = False) -> None:
        if isolation is not None and isolation not in self.dialect.capabilities.isolation_levels:
            raise TransactionError(
                f"isolation level {isolation!r} is not supported by {self.dialect.name}; "
                f"use one of {', '.join(self.dialect.capabilities.isolation_levels)}"
            )
        await self._call(lambda conn: conn.begin(isolation, read_only), sql="BEGIN")
        if self.transaction_setup is not None:
            sql, params = self.transaction_setup
            try:
                await self._call(lambda conn: conn.fetch(sql, params), sql=sql, operation="transaction_setup")
            except BaseException:
                with contextlib.suppress(DataFlowError):
                    await self.rollback()
                raise

    async def commit(self) -> None:
        await self._call(lambda conn: conn.commit(), sql="COMMIT")
        self._finished(True)

    async def rollback(self) -> None:
        if self.broken:
            return
        await self._call(lambda conn: conn.rollback(), sql="ROLLBACK")
        self._finished(False)

    def _finished(self, committed: bool) -> None:
        if self._monitors:
            emit(self._monitors, TransactionFinished(database=self.label, run_id=self.run_id, committed=committed))

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """All or nothing for the statements inside.

        Outside a transaction this is one; inside, a savepoint, so that a
        caller catching the error keeps the rest of its transaction.
        """
        if not self.connection.in_transaction:
            await self.begin()
            try:
                yield
            except BaseException as error:
                try:
                    await self.rollback()
                except DataFlowError:
                    # The connection went with the error (a driver closes it when a statement is
                    # cancelled): the server rolls back, and the caller must see the original error,
                    # a cancellation above all, not the failed rollback.
                    raise error from None
                raise
            try:
                await self.commit()
            except BaseException:
                # A statement queued for the COMMIT's hop failed before it: the transaction is still open.
                if self.in_transaction and not self.broken:
                    with contextlib.suppress(DataFlowError):
                        await self.rollback()
                raise
            return
        if not self.dialect.capabilities.savepoints:
            yield
            return
        self._savepoints += 1
        name = self.dialect.quote(f"dataflow_sp_{self._savepoints}")
        await self.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException as error:
            if not self.broken:
                try:
                    await self.execute(f"ROLLBACK TO SAVEPOINT {name}")
                except DataFlowError:
                    # The database may have undone the whole transaction (a deadlock): the
                    # original error is the one worth reporting.
                    raise error from None
            raise
        try:
            await self.execute(f"RELEASE SAVEPOINT {name}")
        except BaseException:
            # A statement queued for the release's hop failed before it: undo the block's work.
            if not self.broken:
                with contextlib.suppress(DataFlowError):
                    await self.execute(f"ROLLBACK TO SAVEPOINT {name}")
            raise
