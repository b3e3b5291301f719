"""Watching the server's lock tables for waits that last too long, while they happen.

PostgreSQL: ``pg_locks`` (``waitstart``) and ``pg_blocking_pids`` joined to
``pg_stat_activity``. MariaDB: ``information_schema.INNODB_LOCK_WAITS`` with
``INNODB_TRX``; MySQL 8: ``performance_schema.data_lock_waits``. Only waits
of this instance's database are read: on PostgreSQL sessions connected to
it, on MySQL/MariaDB waits for a lock on one of its tables (the server's
lock tables are server-wide). A wait is reported once, when it first passes
the threshold, with the chain of sessions behind it and their statements,
literal values replaced by ``?``. The watcher is a task on the caller's
event loop; nothing runs until it is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from .fingerprint import fingerprint

log = logging.getLogger("dataflow.monitor.locks")

POSTGRES_WAITS = """
SELECT w.pid, w.query, b.pid, b.query, b.state,
       EXTRACT(EPOCH FROM clock_timestamp() - COALESCE(
           (SELECT min(l.waitstart) FROM pg_locks l WHERE l.pid = w.pid AND NOT l.granted), w.query_start))
FROM pg_stat_activity w
CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid)
JOIN pg_stat_activity b ON b.pid = blocker.pid
WHERE w.datname = current_database() AND w.wait_event_type = 'Lock'
"""

# InnoDB names a lock's table `database`.`table`: the prefix picks the watcher's own database.
MARIADB_WAITS = """
SELECT r.trx_mysql_thread_id, r.trx_query, b.trx_mysql_thread_id, b.trx_query, b.trx_state,
       TIMESTAMPDIFF(MICROSECOND, r.trx_wait_started, NOW(6)) / 1000000
FROM information_schema.INNODB_LOCK_WAITS w
JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.requested_lock_id
JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id
WHERE LEFT(l.lock_table, CHAR_LENGTH(DATABASE()) + 3) = CONCAT('`', DATABASE(), '`.')
"""

MYSQL8_WAITS = """
SELECT r.trx_mysql_thread_id, r.trx_query, b.trx_mysql_thread_id, b.trx_query, b.trx_state,
       TIMESTAMPDIFF(MICROSECOND, r.trx_wait_started, NOW(6)) / 1000000
FROM performance_schema.data_lock_waits w
JOIN performance_schema.data_locks l ON l.ENGINE_LOCK_ID = w.REQUESTING_ENGINE_LOCK_ID
JOIN information_schema.INNODB_TRX r ON r.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID
JOIN information_schema.INNODB_TRX b ON b.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID
WHERE l.OBJECT_SCHEMA = DATABASE()
"""


@attrs.frozen
class Waiter:
    """One session in a wait chain."""

    session: int
    """The server's id for it: a PostgreSQL backend pid, a MySQL thread id."""
    statement: str | None
    """What it is running or ran last (None: idle in its transaction, as MySQL reports it)."""
    state: str | None = None


@attrs.frozen
class LockWait:
    """A session waiting for a lock, and the chain of sessions it waits behind."""

    database: str
    waited: float
    """Seconds it had waited when reported."""
    chain: tuple[Waiter, ...]
    """The waiting session first, then the one blocking it, then the one blocking that, ..."""
    at: float = attrs.field(factory=time.time)

    @property
    def blocked(self) -> Waiter:
        return self.chain[0]

    @property
    def blocking(self) -> tuple[Waiter, ...]:
        return self.chain[1:]

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class LockWaitLog:
    """The recent lock waits of one instance (``db.monitor.lock_waits``), with ``entries`` and ``count``."""

    def __init__(self, size: int = 100) -> None:
        self.entries: deque[LockWait] = deque(maxlen=size)
        self.count = 0

    def record(self, wait: LockWait) -> None:
        self.count += 1
        self.entries.append(wait)
        behind = " <- ".join(f"{w.session} ({w.state or '?'}): {w.statement or '(idle in transaction)'}"
                             for w in wait.blocking)  # fmt: skip
        log.warning(
            "lock wait on %s: session %s has waited %.2fs running %s, blocked by %s",
            wait.database,
            wait.blocked.session,
            wait.waited,
            wait.blocked.statement,
            behind,
            extra={"dataflow_lock_wait": wait.as_dict()},
        )


Edge = tuple[int, str | None, int, str | None, str | None, float]
"""(waiting session, its statement, blocking session, its statement, blocking state, seconds waited)."""


def chains(database: str, edges: Sequence[Edge]) -> list[LockWait]:
    """Each waiting session with the chain of sessions behind it (first blocker at each step)."""
    blockers: dict[int, tuple[int, str | None, str | None]] = {}
    statements: dict[int, str | None] = {}
    waited: dict[int, float] = {}
    for waiting, statement, blocking, blocking_statement, state, seconds in edges:
        blockers.setdefault(waiting, (blocking, blocking_statement, state))
        statements[waiting] = statement
        waited[waiting] = max(waited.get(waiting, 0.0), float(seconds or 0.0))
    found = []
    for waiting, seconds in waited.items():
        chain = [Waiter(waiting, statements[waiting], "waiting")]
        seen = {waiting}
        current = waiting
        while current in blockers:
            blocking, statement, state = blockers[current]
            if blocking in seen:
                break  # a cycle: the database will break it as a deadlock
            chain.append(Waiter(blocking, statements.get(blocking, statement), state))
            seen.add(blocking)
            current = blocking
        found.append(LockWait(database, seconds, tuple(chain)))
    return found


class LockWatcher:
    """Polls the server's lock tables; reports each wait once it passes ``threshold`` seconds."""

    def __init__(
        self, db: Any, *, threshold: float, interval: float, report: Callable[[LockWait], None], longest: Any
    ) -> None:
        self.db = db
        self.threshold = threshold
        self.interval = interval
        self.report = report
        self.longest = longest
        self.reported: deque[LockWait] = deque(maxlen=100)
        self.errors = 0
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._seen: set[tuple[int, int]] = set()
        self._mysql_query = MARIADB_WAITS

    @property
    def supported(self) -> bool:
        return self.db.dialect.name in ("postgresql", "mysql")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> LockWatcher:
        """Start polling on the running event loop (a no-op on databases without lock tables)."""
        if self.running:
            return self
        if not self.supported:
            log.info("the lock watcher has nothing to watch on %s", self.db.dialect.name)
            return self
        self._task = asyncio.get_running_loop().create_task(self._run(), name="dataflow-monitor-lock-watcher")
        return self

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> LockWatcher:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed look is counted, the watcher goes on
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.info("lock watcher on %s could not read the lock tables: %s", self.db.label, self.last_error)
            await asyncio.sleep(self.interval)

    async def poll(self) -> list[LockWait]:
        """Look once; report and return the waits that passed the threshold for the first time."""
        edges = await self._edges()
        waits = chains(self.db.label, edges)
        self.longest.set(max((wait.waited for wait in waits), default=0.0))
        current = {(wait.blocked.session, wait.chain[1].session if len(wait.chain) > 1 else 0) for wait in waits}
        self._seen &= current  # a wait that ended may start again later: report it again then
        fresh = []
        for wait in waits:
            key = (wait.blocked.session, wait.chain[1].session if len(wait.chain) > 1 else 0)
            if wait.waited >= self.threshold and key not in self._seen:
                self._seen.add(key)
                self.reported.append(wait)
                self.report(wait)
                fresh.append(wait)
        return fresh

    async def _edges(self) -> list[Edge]:
        pool = await self.db.pool()
        async with asyncio.timeout(max(self.interval * 4, 5.0)):
            connection = await pool.acquire()
        discard = True
        try:
            if self.db.dialect.name == "postgresql":
                rows = await connection.fetch(POSTGRES_WAITS)
            else:
                rows = await self._mysql_rows(connection)
            discard = False
        finally:
            await pool.release(connection, discard=discard)
        return [(int(r[0]), fingerprint(r[1]), int(r[2]), fingerprint(r[3]), r[4], float(r[5] or 0.0)) for r in rows]

    async def _mysql_rows(self, connection: Any) -> list[Sequence[Any]]:
        try:
            rows: list[Sequence[Any]] = await connection.fetch(self._mysql_query)
        except Exception:
            if self._mysql_query is MYSQL8_WAITS:
                raise
            # MySQL 8 dropped INNODB_LOCK_WAITS for performance_schema.data_lock_waits.
            self._mysql_query = MYSQL8_WAITS
            rows = await connection.fetch(self._mysql_query)
        return rows
