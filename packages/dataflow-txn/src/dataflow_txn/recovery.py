"""Resolving in-doubt two-phase branches: commit where the log says commit, roll back otherwise.

Recovery lists the prepared branches of each participant database
(``pg_prepared_xacts``, ``XA RECOVER``), keeps those of its coordinator and
of the participant it is looking at (a server lists every database's XA
branches; schemas of one PostgreSQL database share theirs), and looks up
each transaction's decision. A branch without one is older than its
coordinator's patience: recovery writes ``abort`` first (so that a slow
coordinator cannot commit it afterwards) and then rolls it back.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import attrs

from dataflow.errors import DataFlowError
from dataflow.events import TransactionFinished, emit

from .events import InDoubtBranch
from .gid import BranchId
from .participants import Participant, XAConnection, participant_for
from .txnlog import ABORT, TransactionLog

if TYPE_CHECKING:
    from dataflow import DataFlow
    from dataflow.session import Session

    from .coordinator import TwoPhaseCoordinator


@attrs.define
class RecoveryReport:
    """What :meth:`TwoPhaseCoordinator.recover` did, branch by branch."""

    committed: list[str] = attrs.field(factory=list)
    rolled_back: list[str] = attrs.field(factory=list)
    left: dict[str, str] = attrs.field(factory=dict)
    """Branch id -> why it was left prepared (too young, unknown participant, busy)."""
    errors: dict[str, str] = attrs.field(factory=dict)
    """Participant -> why it could not be scanned."""
    finished: list[str] = attrs.field(factory=list)
    """Transactions whose every branch is now resolved."""

    @property
    def clean(self) -> bool:
        """Nothing was left in doubt and every participant could be scanned."""
        return not self.left and not self.errors


async def recover(coordinator: TwoPhaseCoordinator, *, older_than: float, keep: float) -> RecoveryReport:
    report = RecoveryReport()
    log_db = coordinator.log
    log_session = await log_db.open_session()
    try:
        txn_log = TransactionLog(log_session)
        await txn_log.ensure()
        scanned: set[str] = set()
        unresolved: set[str] = set()
        for name, db in coordinator.participants.items():
            try:
                await _recover_participant(coordinator, name, db, txn_log, report, unresolved, older_than)
                scanned.add(name)
            except (DataFlowError, OSError) as exc:
                report.errors[name] = str(exc)
        for decision in await txn_log.pending(coordinator.name):
            text = decision.transaction.text
            if text in unresolved or not set(decision.participants) <= scanned:
                continue
            await txn_log.mark_done(decision.transaction)
            report.finished.append(text)
        await txn_log.purge(coordinator.name, int((time.time() - keep) * 1000))
    finally:
        await log_db.close_session(log_session)
    return report


async def in_doubt(coordinator: TwoPhaseCoordinator, older_than: float) -> list[InDoubtBranch]:
    found: list[InDoubtBranch] = []
    for name, db in coordinator.participants.items():
        session = await db.open_session()
        try:
            for branch in await _branches(coordinator, name, db, session):
                age = time.time() - branch.transaction.created
                if age >= older_than:
                    event = InDoubtBranch(db.label, branch.text, age, "found")
                    found.append(event)
                    if db.monitors:
                        emit(db.monitors, event)
        finally:
            await close_session(db, session)
    return found


async def _branches(coordinator: TwoPhaseCoordinator, name: str, db: DataFlow, session: Session) -> list[BranchId]:
    """The prepared branches of ``coordinator``'s participant ``name`` held by ``db``."""
    mine = []
    for text in await participant_for(db).prepared(session):
        branch = BranchId.parse(text)
        if branch is not None and branch.transaction.coordinator == coordinator.name and branch.participant == name:
            mine.append(branch)
    return mine


async def _recover_participant(
    coordinator: TwoPhaseCoordinator,
    name: str,
    db: DataFlow,
    txn_log: TransactionLog,
    report: RecoveryReport,
    unresolved: set[str],
    older_than: float,
) -> None:
    session = await db.open_session()
    try:
        participant = participant_for(db)
        for text in await participant.prepared(session):
            branch = BranchId.parse(text)
            if branch is None or branch.transaction.coordinator != coordinator.name:
                continue
            if branch.participant != name:
                # Branches of other participants on the same server or database show here too.
                if branch.participant not in coordinator.participants:
                    report.left[text] = f"participant {branch.participant!r} is not registered here"
                    unresolved.add(branch.transaction.text)
                continue
            age = time.time() - branch.transaction.created
            action = await _resolve(branch, age, participant, session, txn_log, older_than, report)
            if action == "left":
                unresolved.add(branch.transaction.text)
            if db.monitors:
                emit(db.monitors, InDoubtBranch(db.label, text, age, action))
                if action != "left":
                    emit(db.monitors, TransactionFinished(db.label, branch.transaction.text, action == "commit"))
    finally:
        await close_session(db, session)


async def _resolve(
    branch: BranchId,
    age: float,
    participant: Participant,
    session: Session,
    txn_log: TransactionLog,
    older_than: float,
    report: RecoveryReport,
) -> str:
    decision = await txn_log.get(branch.transaction)
    if decision is None:
        if age < older_than:
            report.left[branch.text] = f"no decision yet and only {age:.1f}s old (older_than={older_than:g})"
            return "left"
        decision = await txn_log.decide(branch.transaction, ABORT, (branch.participant,))
    try:
        await participant.finish(session, branch, decision.commit)
    except DataFlowError as exc:
        # E.g. MySQL keeps a branch attached to its session until the server notices the client is gone.
        report.left[branch.text] = f"could not {decision.decision} it yet: {exc}"
        return "left"
    (report.committed if decision.commit else report.rolled_back).append(branch.text)
    return "commit" if decision.commit else "rollback"


async def close_session(db: DataFlow, session: Session) -> None:
    """Give a session back; one still wrapped for XA (or marked broken) is discarded, never reused."""
    if isinstance(session.connection, XAConnection):
        session.connection = session.connection.inner
        session.broken = True
    try:
        await db.close_session(session)
    except Exception:  # noqa: BLE001 - the pool has released (or discarded) the connection already
        return
