"""The coordinator's durable decisions: the ``dataflow_txn_log`` table.

One row per decided distributed transaction. The coordinator inserts
``decision='commit'`` after every participant prepared and before any is
committed; recovery inserts ``decision='abort'`` for a prepared branch it
finds without a decision. The transaction id is the primary key, so whichever
insert comes first wins: a slow coordinator cannot commit a transaction that
recovery has already begun to roll back (presumed abort, fenced).

``done_at`` is set when phase two finished on every participant; such rows
are only history, deleted by recovery after ``keep`` seconds.
"""

from __future__ import annotations

from typing import Annotated

import attrs

from dataflow.errors import UniqueViolationError
from dataflow.fields import MaxLength
from dataflow.session import Session
from dataflow.sql import Params

from .gid import TransactionId
from .storage import Table, declare, now_ms

COMMIT = "commit"
ABORT = "abort"


class _TxnLog:
    gid: Annotated[str, MaxLength(64)]
    coordinator: Annotated[str, MaxLength(16)]
    decision: Annotated[str, MaxLength(8)]
    participants: Annotated[str, MaxLength(400)]
    decided_at: int
    done_at: int | None = None
    __dataflow__ = {"table": "dataflow_txn_log", "primary_key": "gid"}


SCHEMA = declare(_TxnLog)


@attrs.frozen
class Decision:
    transaction: TransactionId
    decision: str
    participants: tuple[str, ...]
    decided_at: int
    done_at: int | None

    @property
    def commit(self) -> bool:
        return self.decision == COMMIT


def _decision(row: dict[str, object]) -> Decision:
    participants = str(row["participants"])
    done_at = row["done_at"]
    return Decision(
        transaction=TransactionId.parse(str(row["gid"])),
        decision=str(row["decision"]),
        participants=tuple(p for p in participants.split(",") if p),
        decided_at=int(str(row["decided_at"])),
        done_at=int(str(done_at)) if done_at is not None else None,
    )


class TransactionLog:
    """The log table on one session of the coordinator's log database (outside any other transaction)."""

    def __init__(self, session: Session) -> None:
        self.table = Table(session, SCHEMA)
        self.session = session

    async def ensure(self) -> None:
        await self.table.ensure()

    async def decide(self, transaction: TransactionId, decision: str, participants: tuple[str, ...]) -> Decision:
        """Record ``decision`` durably unless one is recorded already; return the one that stands."""
        row = {
            "gid": transaction.text,
            "coordinator": transaction.coordinator,
            "decision": decision,
            "participants": ",".join(participants),
            "decided_at": now_ms(),
            "done_at": None,
        }
        try:
            async with self.session.atomic():
                await self.table.insert(row)
        except UniqueViolationError:
            existing = await self.get(transaction)
            if existing is None:
                raise
            return existing
        return _decision(row)

    async def get(self, transaction: TransactionId) -> Decision | None:
        row = await self.table.select_one({"gid": transaction.text})
        return _decision(row) if row is not None else None

    async def mark_done(self, transaction: TransactionId) -> None:
        await self.table.update({"done_at": now_ms()}, {"gid": transaction.text})

    async def pending(self, coordinator: str) -> list[Decision]:
        """Decisions of ``coordinator`` whose phase two may not have finished everywhere."""
        rows = await self.table.select({"coordinator": coordinator, "done_at": None})
        return [_decision(row) for row in rows]

    async def purge(self, coordinator: str, older_than_ms: int) -> int:
        """Delete finished rows decided before ``older_than_ms``; return how many."""
        sql = self.table.sql
        params = Params(sql.dialect)
        statement = (
            f"DELETE FROM {sql.table} WHERE {sql.quoted['coordinator']} = {params.add(coordinator)} "
            f"AND {sql.quoted['done_at']} IS NOT NULL AND {sql.quoted['decided_at']} < {params.add(older_than_ms)}"
        )
        result = await self.session.execute(statement, params.values)
        return result.rowcount
