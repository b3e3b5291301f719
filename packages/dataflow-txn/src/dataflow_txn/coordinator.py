"""The two-phase commit coordinator: run, prepare everywhere, log the decision, commit everywhere.

Phase one runs each participant's workflow on its own session inside a
branch transaction, then prepares every branch. Only when all prepared does
the coordinator write ``commit`` to its log (a committed row in the log
database); that row is the commit point. Phase two commits each branch. A
failure before the commit point rolls every branch back; a crash after it
leaves prepared branches that :meth:`TwoPhaseCoordinator.recover` commits.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.errors import ConfigError, DataFlowError, WorkflowBuildError, WorkflowError
from dataflow.events import TransactionFinished, emit
from dataflow.workflow import Workflow

from .errors import InDoubtError, TwoPhaseError
from .events import InDoubtBranch
from .executor import Parameters, run_on_sessions
from .gid import BranchId, TransactionId, check_name
from .participants import Participant, participant_for
from .recovery import RecoveryReport, close_session, in_doubt, recover
from .txnlog import COMMIT, TransactionLog

if TYPE_CHECKING:
    from dataflow import DataFlow
    from dataflow.session import Session


log = logging.getLogger("dataflow.txn")

PhaseHook = Callable[[str, TransactionId], Awaitable[None] | None]
"""Called with ``"prepared"``, ``"decided"`` and ``"committed"`` as a transaction passes each point."""

_coordinators: weakref.WeakSet[TwoPhaseCoordinator] = weakref.WeakSet()


def live_coordinators() -> list[TwoPhaseCoordinator]:
    """The coordinators created in this process (what ``dataflow txn recover --app`` recovers)."""
    return list(_coordinators)


@attrs.frozen
class Branch:
    """What one participant runs: its workflow, with run-time parameters by node id."""

    participant: str
    workflow: Workflow
    parameters: Parameters = attrs.field(factory=dict)


@attrs.frozen
class TwoPhaseOutcome:
    """A committed distributed transaction.

    ``results`` maps each participant to its workflow's results. ``incomplete``
    names participants whose ``COMMIT PREPARED`` failed after the commit
    decision was logged: their part is committed by recovery.
    """

    transaction_id: str
    results: Mapping[str, Mapping[str, Any]]
    incomplete: tuple[str, ...] = ()


@attrs.define
class _Open:
    branch: Branch
    db: DataFlow
    participant: Participant
    branch_id: BranchId
    session: Session
    state: str = "active"  # active -> prepared -> finished


class TwoPhaseCoordinator:
    """Coordinates distributed transactions over named participant databases.

    ``name`` becomes part of every transaction id (1-16 of ``a-z0-9_``): the
    processes of one application share a name (any of them may recover what
    another left), unrelated applications on the same servers use different
    ones. ``log`` is the database that keeps the decisions (it may be a
    participant too). ``participants`` names the databases; recovery scans
    exactly these, so a process that recovers must register the same names.
    """

    def __init__(
        self,
        name: str,
        *,
        log: DataFlow,
        participants: Mapping[str, DataFlow] | None = None,
        phase_hook: PhaseHook | None = None,
    ) -> None:
        self.name = check_name(name, "coordinator")
        self.log = log
        self.participants: dict[str, DataFlow] = {}
        self.phase_hook = phase_hook
        for participant, db in (participants or {}).items():
            self.add_participant(participant, db)
        _coordinators.add(self)

    def __repr__(self) -> str:
        return f"TwoPhaseCoordinator({self.name!r}, participants={list(self.participants)})"

    def add_participant(self, name: str, db: DataFlow) -> str:
        """Register ``db`` under ``name``; refuse a database that cannot prepare transactions."""
        check_name(name, "participant")
        known = self.participants.get(name)
        if known is not None and known is not db:
            raise ConfigError(f"participant {name!r} is already registered for {known.label}", field="participant")
        if not db.dialect.capabilities.two_phase:
            raise WorkflowBuildError(
                f"participant {name!r} ({db.label}) cannot take part in two-phase commit: the "
                f"{db.dialect.name} dialect cannot prepare transactions (capabilities.two_phase is False); "
                "use pattern='saga' (or 'auto') for it"
            )
        self.participants[name] = db
        return name

    # -- running ------------------------------------------------------------------

    async def execute(
        self,
        branches: Sequence[Branch],
        *,
        isolation: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> TwoPhaseOutcome:
        """Run ``branches`` as one distributed transaction; raise if it did not commit.

        A failed node raises ``WorkflowError`` and a refused prepare
        ``TwoPhaseError``, after every branch was rolled back. ``InDoubtError``
        means the decision could not be logged: branches stay prepared until
        :meth:`recover`.
        """
        names = [branch.participant for branch in branches]
        if len(set(names)) != len(names) or not names:
            raise WorkflowBuildError(f"a distributed transaction needs distinct participants, got {names}")
        for name in names:
            if name not in self.participants:
                raise WorkflowBuildError(f"participant {name!r} is not registered with coordinator {self.name!r}")
        transaction = TransactionId.new(self.name)
        log_session = await self.log.open_session(run_id=transaction.text, context=context)
        opened: list[_Open] = []
        decided = False
        try:
            txn_log = TransactionLog(log_session)
            await txn_log.ensure()
            for branch in branches:
                db = self.participants[branch.participant]
                await db.pool()  # the pool refines capabilities (PostgreSQL's max_prepared_transactions)
                participant = participant_for(db)
                session = await db.open_session(run_id=transaction.text, context=context)
                item = _Open(branch, db, participant, transaction.branch(branch.participant), session)
                opened.append(item)
                await participant.begin(session, item.branch_id, isolation)
            results = await self._run(opened, transaction)
            await self._prepare(opened, transaction)
            await self._hook("prepared", transaction)
            decided = True
            decision = await txn_log.decide(transaction, COMMIT, tuple(names))
            if not decision.commit:
                await self._roll_back(opened)
                raise TwoPhaseError(
                    f"transaction {transaction} was rolled back by recovery before it could commit",
                    transaction_id=transaction.text,
                )
            await self._hook("decided", transaction)
            incomplete = await self._commit(opened)
            if not incomplete:
                await txn_log.mark_done(transaction)
            await self._hook("committed", transaction)
            return TwoPhaseOutcome(transaction.text, results, incomplete)
        except BaseException as exc:
            if decided and any(item.state == "prepared" for item in opened):
                # The commit row may or may not have reached the log: only recovery can tell.
                for item in opened:
                    item.session.broken = item.session.broken or item.state == "prepared"
                if isinstance(exc, DataFlowError) and not isinstance(exc, TwoPhaseError):
                    raise InDoubtError(
                        f"transaction {transaction}: the commit decision could not be logged ({exc}); its "
                        "branches stay prepared until the coordinator's recover() resolves them",
                        transaction_id=transaction.text,
                    ) from exc
                raise
            await self._roll_back(opened)
            raise
        finally:
            for item in opened:
                await _close(item)
            await self.log.close_session(log_session)

    async def _run(self, opened: list[_Open], transaction: TransactionId) -> dict[str, dict[str, Any]]:
        async def run(item: _Open) -> dict[str, Any]:
            return await run_on_sessions(
                item.branch.workflow, {item.db: item.session}, item.branch.parameters, run_id=transaction.text
            )

        outcomes = await asyncio.gather(*(run(item) for item in opened), return_exceptions=True)
        results: dict[str, dict[str, Any]] = {}
        for item, outcome in zip(opened, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                results[item.branch.participant] = outcome
            else:
                if isinstance(outcome, WorkflowError):
                    raise WorkflowError(
                        f"participant {item.branch.participant!r}: {outcome.message}; "
                        "every participant was rolled back",
                        node_id=outcome.node_id,
                        cause=outcome.cause,
                        results=outcome.results,
                        run_id=transaction.text,
                    ) from outcome
                raise outcome
        return results

    async def _prepare(self, opened: list[_Open], transaction: TransactionId) -> None:
        async def prepare(item: _Open) -> None:
            await item.participant.prepare(item.session, item.branch_id)
            item.state = "prepared"

        outcomes = await asyncio.gather(*(prepare(item) for item in opened), return_exceptions=True)
        for item, outcome in zip(opened, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome
                reason = getattr(outcome, "message", None) or str(outcome)
                raise TwoPhaseError(
                    f"participant {item.branch.participant!r} failed to prepare: {reason}; "
                    "every participant was rolled back",
                    participant=item.branch.participant,
                    transaction_id=transaction.text,
                ) from outcome

    async def _commit(self, opened: list[_Open]) -> tuple[str, ...]:
        async def commit(item: _Open) -> None:
            await item.participant.finish(item.session, item.branch_id, True)
            item.state = "finished"
            _finished(item, True)

        outcomes = await asyncio.gather(*(commit(item) for item in opened), return_exceptions=True)
        incomplete = []
        for item, outcome in zip(opened, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.warning(
                    "transaction %s is committed but %s could not commit its branch yet (%s); recovery will",
                    item.branch_id.transaction,
                    item.branch.participant,
                    outcome,
                )
                item.session.broken = True
                incomplete.append(item.branch.participant)
        return tuple(incomplete)

    async def _roll_back(self, opened: list[_Open]) -> None:
        """Undo every branch (before the commit point); a branch that cannot be undone is left to recovery."""
        for item in opened:
            try:
                if item.state == "active":
                    await item.participant.rollback_active(item.session, item.branch_id)
                elif item.state == "prepared":
                    await item.participant.finish(item.session, item.branch_id, False)
                item.state = "finished"
                _finished(item, False)
            except (DataFlowError, OSError) as exc:
                item.session.broken = True
                log.warning("could not roll back %s on %s (%s); recovery will", item.branch_id, item.db.label, exc)

    async def _hook(self, phase: str, transaction: TransactionId) -> None:
        if self.phase_hook is not None:
            outcome = self.phase_hook(phase, transaction)
            if inspect.isawaitable(outcome):
                await outcome

    # -- recovery -----------------------------------------------------------------

    async def recover(self, *, older_than: float = 30.0, keep: float = 7 * 86400.0) -> RecoveryReport:
        """Resolve in-doubt branches of this coordinator on every registered participant.

        A prepared branch whose transaction has a ``commit`` decision is
        committed; one without a decision (older than ``older_than`` seconds,
        so that transactions still in flight are left alone) gets an ``abort``
        decision and is rolled back. Decision rows finished more than
        ``keep`` seconds ago are deleted. Safe to run concurrently with
        coordinators and with other recoveries.
        """
        return await recover(self, older_than=older_than, keep=keep)

    async def in_doubt(self, *, older_than: float = 0.0) -> list[InDoubtBranch]:
        """The prepared branches of this coordinator older than ``older_than`` seconds, changing nothing.

        Each is also given to the monitors of its database (action
        ``"found"``), so a periodic call reports transactions stuck in doubt.
        """
        return await in_doubt(self, older_than)


def _finished(item: _Open, committed: bool) -> None:
    if item.db.monitors:
        emit(item.db.monitors, TransactionFinished(item.db.label, item.branch_id.transaction.text, committed))


async def _close(item: _Open) -> None:
    if item.state in ("active", "prepared") and not item.session.broken:
        # Never hand the pool a connection with a branch still open on it.
        item.session.broken = True
    await close_session(item.db, item.session)
