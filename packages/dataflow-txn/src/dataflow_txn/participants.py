"""How each database takes part in two-phase commit.

PostgreSQL: ``BEGIN``, the work, ``PREPARE TRANSACTION 'id'``; then, from any
session of the same database, ``COMMIT PREPARED 'id'`` or ``ROLLBACK PREPARED
'id'``; in-doubt branches are listed in ``pg_prepared_xacts``. The server
needs ``max_prepared_transactions > 0``.

MySQL/MariaDB: ``XA START 'id'``, the work, ``XA END 'id'``, ``XA PREPARE
'id'``; then ``XA COMMIT 'id'`` or ``XA ROLLBACK 'id'``; in-doubt branches are
listed by ``XA RECOVER``. While the XA branch is active the session's
connection is replaced by :class:`XAConnection`, which tells the core it is
inside a transaction (so ``atomic()`` takes savepoints) and refuses the plain
``BEGIN``/``COMMIT``/``ROLLBACK`` the server would refuse anyway.

Ids reach the statements only through :meth:`BranchId.literal`, which checks
them against the id pattern first (these statements take no bound parameters).

A third-party dialect takes part by giving its dialect object a
``two_phase_participant()`` method returning an object with the methods of
:class:`Participant`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from dataflow.dialect import ExecuteResult
from dataflow.errors import DataFlowError, TransactionError

from .gid import BranchId

if TYPE_CHECKING:
    from dataflow import DataFlow
    from dataflow.session import Session

PG_UNKNOWN_PREPARED = "42704"
PG_TEMPORARY_OBJECTS = "0A000"  # feature_not_supported: PREPARE after using a temporary table
XA_UNKNOWN_XID = 1397
XA_NOT_IN_STATE = 1399  # XAER_RMFAIL: e.g. the branch is still attached to a (dying) session


class Participant(Protocol):
    """One dialect's two-phase operations on a DataFlow session."""

    async def begin(self, session: Session, branch: BranchId, isolation: str | None) -> None:
        """Start the branch's transaction on ``session``."""

    async def prepare(self, session: Session, branch: BranchId) -> None:
        """Make the branch's work durable and ready to commit; raise if the database refuses."""

    async def rollback_active(self, session: Session, branch: BranchId) -> None:
        """Roll back a branch that was begun but not prepared."""

    async def finish(self, session: Session, branch: BranchId, commit: bool) -> bool:
        """Commit or roll back a prepared branch; False when the database knows no such branch."""

    async def prepared(self, session: Session) -> list[str]:
        """The ids of every prepared branch the database holds (recovery filters them)."""


def _driver_error(error: DataFlowError) -> Any:
    return error.__cause__


class PostgresParticipant:
    """PREPARE TRANSACTION / COMMIT PREPARED on asyncpg."""

    async def begin(self, session: Session, branch: BranchId, isolation: str | None) -> None:
        await session.begin(isolation)

    async def prepare(self, session: Session, branch: BranchId) -> None:
        sql = f"PREPARE TRANSACTION {branch.literal()}"

        async def action(connection: Any) -> str:
            # The command tag tells a prepared transaction from one the server rolled back
            # (after a failed statement it answers PREPARE with ROLLBACK): only the raw
            # asyncpg connection returns it.
            status: str = await connection.raw.execute(sql)
            return status

        try:
            status = await session.call(action, sql=sql)
        except DataFlowError as exc:
            if getattr(_driver_error(exc), "sqlstate", None) == PG_TEMPORARY_OBJECTS:
                raise TransactionError(
                    f"{session.db.label} cannot prepare a transaction that used a temporary table; a bulk "
                    "upsert's 'copy_merge' strategy stages its rows in one: pass strategy='unnest' to bulk "
                    "upserts that run in a two-phase participant"
                ) from exc
            raise
        if status != "PREPARE TRANSACTION":
            raise TransactionError(
                f"{session.db.label} rolled the transaction back instead of preparing it (a statement in it had failed)"
            )

    async def rollback_active(self, session: Session, branch: BranchId) -> None:
        if session.in_transaction:
            await session.rollback()

    async def finish(self, session: Session, branch: BranchId, commit: bool) -> bool:
        verb = "COMMIT" if commit else "ROLLBACK"
        # COMMIT PREPARED cannot run inside a transaction block, so not in the one a session's
        # transaction_setup (tenancy's settings behind PgBouncer) would open around it.
        setup, session.transaction_setup = session.transaction_setup, None
        try:
            await session.execute(f"{verb} PREPARED {branch.literal()}")
        except DataFlowError as exc:
            if getattr(_driver_error(exc), "sqlstate", None) == PG_UNKNOWN_PREPARED:
                return False
            raise
        finally:
            session.transaction_setup = setup
        return True

    async def prepared(self, session: Session) -> list[str]:
        rows = await session.fetch(
            "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE 'dftx.%'"
        )
        return [str(row[0]) for row in rows]


class XAConnection:
    """A MySQL connection while an XA branch is active on it.

    Statements pass through to the dialect's connection; ``in_transaction`` is
    true, so ``Session.atomic()`` nests with savepoints (which MariaDB and MySQL
    allow inside XA) instead of starting a transaction the server would refuse.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        # query(), pipeline() and the like, which MySQL bulk strategies call.
        return getattr(self.inner, name)

    @property
    def raw(self) -> Any:
        return self.inner.raw

    @property
    def in_transaction(self) -> bool:
        return True

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> ExecuteResult:
        result: ExecuteResult = await self.inner.execute(sql, params)
        return result

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        count: int = await self.inner.executemany(sql, rows)
        return count

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        rows: list[Sequence[Any]] = await self.inner.fetch(sql, params)
        return rows

    async def begin(self, isolation: str | None = None, read_only: bool = False) -> None:
        raise TransactionError("this connection is in a distributed (XA) transaction; the coordinator ends it")

    async def commit(self) -> None:
        raise TransactionError("this connection is in a distributed (XA) transaction; the coordinator commits it")

    async def rollback(self) -> None:
        raise TransactionError("this connection is in a distributed (XA) transaction; the coordinator rolls it back")


class MySQLParticipant:
    """XA transactions on aiomysql."""

    async def begin(self, session: Session, branch: BranchId, isolation: str | None) -> None:
        if isolation is not None:
            levels = session.dialect.capabilities.isolation_levels
            if isolation not in levels:
                raise TransactionError(
                    f"isolation level {isolation!r} is not supported; use one of {', '.join(levels)}"
                )
            # Applies to the next transaction, which XA START begins.
            await session.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation.upper()}")
        await session.execute(f"XA START {branch.literal()}")
        session.connection = XAConnection(session.connection)

    @staticmethod
    def _detach(session: Session) -> None:
        connection = session.connection
        if isinstance(connection, XAConnection):
            session.connection = connection.inner

    async def prepare(self, session: Session, branch: BranchId) -> None:
        self._detach(session)
        await session.execute(f"XA END {branch.literal()}")
        await session.execute(f"XA PREPARE {branch.literal()}")

    async def rollback_active(self, session: Session, branch: BranchId) -> None:
        self._detach(session)
        if session.broken:
            return  # the server rolls back an unprepared branch when its connection goes
        with contextlib.suppress(DataFlowError):
            # Already ended (or rolled back by a deadlock): XA ROLLBACK settles both.
            await session.execute(f"XA END {branch.literal()}")
        try:
            await session.execute(f"XA ROLLBACK {branch.literal()}")
        except DataFlowError as exc:
            if getattr(_driver_error(exc), "args", (None,))[0] != XA_UNKNOWN_XID:
                session.broken = True  # never reuse a connection whose XA state is unknown
                raise

    async def finish(self, session: Session, branch: BranchId, commit: bool) -> bool:
        self._detach(session)
        verb = "COMMIT" if commit else "ROLLBACK"
        try:
            await session.execute(f"XA {verb} {branch.literal()}")
        except DataFlowError as exc:
            if getattr(_driver_error(exc), "args", (None,))[0] == XA_UNKNOWN_XID:
                return False
            raise
        return True

    async def prepared(self, session: Session) -> list[str]:
        ids = []
        for row in await session.fetch("XA RECOVER"):
            format_id, gtrid_length, bqual_length, data = int(row[0]), int(row[1]), int(row[2]), row[3]
            if format_id != 1 or bqual_length != 0:
                continue
            text = data.decode("ascii", "replace") if isinstance(data, (bytes, bytearray)) else str(data)
            ids.append(text[:gtrid_length])
        return ids


_BUILT_IN: dict[str, type[PostgresParticipant] | type[MySQLParticipant]] = {
    "postgresql": PostgresParticipant,
    "mysql": MySQLParticipant,
}


def participant_for(db: DataFlow) -> Participant:
    """The two-phase operations of ``db``'s dialect; ``TransactionError`` when it has none."""
    custom = getattr(db.dialect, "two_phase_participant", None)
    if callable(custom):
        participant: Participant = custom()
        return participant
    cls = _BUILT_IN.get(db.dialect.name)
    if cls is None or not db.dialect.capabilities.two_phase:
        raise TransactionError(
            f"{db.label}: the {db.dialect.name} dialect cannot prepare transactions "
            "(capabilities.two_phase is False), so it cannot take part in two-phase commit"
        )
    return cls()
