"""Transactions across databases: two-phase commit or saga, chosen per transaction.

    txn = DistributedTransaction("shop", log=orders, pattern="auto")
    txn.add_participant("orders", orders, orders_workflow, compensation=cancel_order,
                        compensation_params=lambda ctx, out: {"cancel": {"id": out["create"]["id"]}})
    txn.add_participant("stock", stock, stock_workflow, compensation=release_stock, ...)
    outcome = await txn.execute_async({"orders": {"create": {...}}, "stock": {...}})
    outcome.pattern  # "2pc" or "saga"

``pattern="2pc"``: every participant's workflow runs in a branch transaction
and all commit, or none does; readers never see one database's part without
the other's (once committed). A participant that cannot prepare (SQLite) is
refused when it is added. ``pattern="saga"``: the participants run in order,
each committing on its own; a failure compensates the completed ones. Readers
may see a partial state in between. ``pattern="auto"`` picks 2PC when every
participant can prepare and ``atomic_visibility`` is asked (the default),
and a saga otherwise (then compensations are needed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from dataflow.database import close_loop_pools
from dataflow.errors import ValidationError, WorkflowBuildError
from dataflow.loops import run_sync
from dataflow.nodes.base import Node
from dataflow.workflow import Workflow, WorkflowBuilder

from .coordinator import Branch, TwoPhaseCoordinator
from .executor import built, check_bound, check_parameters
from .gid import check_name
from .retry import RetryPolicy, not_repeatable, retrying
from .saga.definition import Saga
from .saga.service import SagaService
from .saga.steps import CompensationParams

if TYPE_CHECKING:
    from dataflow import DataFlow
    from dataflow.session import Session

PATTERNS = ("2pc", "saga", "auto")


@attrs.frozen
class ParticipantSpec:
    name: str
    db: DataFlow
    workflow: Workflow
    compensation: Workflow | None = None
    compensation_params: CompensationParams = None


@attrs.frozen
class TransactionOutcome:
    """A committed distributed transaction: the pattern used, its id, and results by participant.

    ``incomplete`` (2PC only) names participants whose part is decided but
    still to be committed by recovery.
    """

    pattern: str
    transaction_id: str
    results: Mapping[str, Mapping[str, Any]]
    incomplete: tuple[str, ...] = ()
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "transaction_id": self.transaction_id,
            "results": {name: dict(results) for name, results in self.results.items()},
            "incomplete": list(self.incomplete),
            "replayed": self.replayed,
        }


class DistributedTransaction:
    """Participants (each a workflow on its own database) that commit together, by 2PC or as a saga.

    ``name`` names the coordinator and the saga (1-16 of ``a-z0-9_``); ``log``
    keeps the coordinator's decisions and the saga log.
    """

    def __init__(
        self,
        name: str,
        *,
        log: DataFlow,
        pattern: str = "auto",
        atomic_visibility: bool = True,
        forward_recoverable: bool = False,
        coordinator: TwoPhaseCoordinator | None = None,
    ) -> None:
        if pattern not in PATTERNS:
            raise WorkflowBuildError(f"pattern must be one of {', '.join(PATTERNS)}, got {pattern!r}")
        self.name = check_name(name, "transaction")
        self.log = log
        self.requested = pattern
        self.atomic_visibility = atomic_visibility
        self.forward_recoverable = forward_recoverable
        self.coordinator = coordinator or TwoPhaseCoordinator(name, log=log)
        self.participants: list[ParticipantSpec] = []
        self._saga: Saga | None = None
        # Saga recovery in another process finds this transaction's saga by name, once defined.
        SagaService.of(log).provide(self.name, self.saga)

    def __repr__(self) -> str:
        return (
            f"DistributedTransaction({self.name!r}, pattern={self.requested!r}, {[p.name for p in self.participants]})"
        )

    def add_participant(
        self,
        name: str,
        db: DataFlow,
        workflow: Workflow | WorkflowBuilder,
        *,
        compensation: Workflow | WorkflowBuilder | None = None,
        compensation_params: CompensationParams = None,
    ) -> DistributedTransaction:
        """Add ``workflow`` (nodes of ``db`` only) as participant ``name``; checked here, not at run time.

        ``compensation`` undoes the participant's part if a later one fails
        (saga only); ``compensation_params(context, results)`` gives its
        run-time parameters by node id from the participant's results.
        """
        check_name(name, "participant")
        if any(p.name == name for p in self.participants):
            raise WorkflowBuildError(f"transaction {self.name!r} already has a participant {name!r}")
        if any(p.db is db for p in self.participants):
            raise WorkflowBuildError(
                f"transaction {self.name!r}: {db.label} is already a participant; put its nodes in one workflow"
            )
        inner = built(workflow, inputs_at_run=True)
        check_bound(inner, [db], f"participant {name!r}")
        undo = built(compensation, inputs_at_run=True) if compensation is not None else None
        if undo is not None:
            check_bound(undo, [db], f"compensation of participant {name!r}")
        if self.requested == "2pc":
            self.coordinator.add_participant(name, db)  # refuses a database that cannot prepare
        self.participants.append(ParticipantSpec(name, db, inner, undo, compensation_params))
        self._saga = None
        return self

    @property
    def pattern(self) -> str:
        """The pattern this transaction runs with: ``"2pc"`` or ``"saga"``."""
        if self.requested != "auto":
            return self.requested
        capable = all(p.db.dialect.capabilities.two_phase for p in self.participants)
        return "2pc" if capable and self.atomic_visibility else "saga"

    def build(self) -> str:
        """Check the whole transaction; return the pattern it will use."""
        if not self.participants:
            raise WorkflowBuildError(f"transaction {self.name!r} has no participants")
        pattern = self.pattern
        if pattern == "2pc":
            for participant in self.participants:
                self.coordinator.add_participant(participant.name, participant.db)
        else:
            self.saga()
        return pattern

    def saga(self) -> Saga:
        """The saga this transaction runs as when its pattern is ``"saga"`` (registered in ``log.sagas``)."""
        if self._saga is None:
            saga = Saga(self.name, log=self.log, forward_recoverable=self.forward_recoverable)
            for participant in self.participants:
                saga.step(
                    participant.name,
                    participant.db,
                    participant.workflow,
                    params=_participant_params(participant.name),
                    compensation=participant.compensation,
                    compensation_params=participant.compensation_params,
                )
            self._saga = saga
        return self._saga

    async def execute_async(
        self,
        parameters: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
        *,
        key: str | None = None,
        isolation: str | None = None,
        context: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
    ) -> TransactionOutcome:
        """Run the transaction; ``parameters`` are each participant's run-time parameters by node id.

        ``key`` is the saga's idempotency key (saga only: a key given to a
        transaction that runs as 2PC is refused, never ignored). ``isolation`` applies
        to every 2PC branch. ``retry`` retries a 2PC transaction that failed
        before anything was prepared with a retryable error (serialization
        failure, deadlock), when every node is repeatable.
        """
        pattern = self.build()
        if key is not None and pattern == "2pc":
            raise WorkflowBuildError(
                f"transaction {self.name!r} runs as two-phase commit, which takes no idempotency key: "
                "use pattern='saga' to run at most once per key, or leave 'key' out"
            )
        parameters = dict(parameters or {})
        for name in parameters:
            if not any(p.name == name for p in self.participants):
                raise WorkflowBuildError(f"parameters name unknown participant {name!r}")
        for participant in self.participants:
            check_parameters(
                participant.workflow, parameters.get(participant.name), f"participant {participant.name!r}"
            )
        if pattern == "saga":
            outcome = await self.saga().execute_async(
                {"parameters": {name: {k: dict(v) for k, v in p.items()} for name, p in parameters.items()}},
                key=key,
                context=context,
            )
            return TransactionOutcome("saga", outcome.saga_id, outcome.results, replayed=outcome.replayed)
        branches = [Branch(p.name, p.workflow, parameters.get(p.name, {})) for p in self.participants]

        async def attempt() -> TransactionOutcome:
            done = await self.coordinator.execute(branches, isolation=isolation, context=context)
            return TransactionOutcome("2pc", done.transaction_id, done.results, done.incomplete)

        if retry is None:
            return await attempt()
        blockers = [f"{p.name}.{node_id}" for p in self.participants for node_id in not_repeatable(p.workflow)]
        databases = [p.db for p in self.participants]
        return await retrying(attempt, retry, blockers=blockers, databases=databases, what=f"transaction {self.name!r}")

    def execute(self, parameters: Mapping[str, Any] | None = None, **options: Any) -> TransactionOutcome:
        """Synchronous :meth:`execute_async`."""
        return run_sync(lambda: self.execute_async(parameters, **options), cleanup=close_loop_pools)

    def node(self, type_name: str = "DistributedTransactionNode") -> type[Node]:
        """A workflow node type running this transaction (checked now): inputs ``parameters`` and ``key``."""
        self.build()
        return type(type_name, (DistributedTransactionNode,), {"type_name": type_name, "bound": self})


def _participant_params(name: str) -> Any:
    def params(context: Any) -> Mapping[str, Any]:
        by_participant: Mapping[str, Any] = context.input.get("parameters", {})
        found: Mapping[str, Any] = by_participant.get(name, {})
        return found

    return params


class DistributedTransactionNode(Node):
    """Runs a :class:`~dataflow_txn.DistributedTransaction`.

    Inputs: ``transaction`` (unless the node type is bound to one),
    ``parameters`` (by participant, then node id), ``key`` (saga idempotency
    key). Output: ``{"pattern", "transaction_id", "results", "incomplete", "replayed"}``.
    """

    type_name: ClassVar[str] = "DistributedTransactionNode"
    parameters: ClassVar[frozenset[str] | None] = frozenset({"transaction", "parameters", "key"})
    bound: ClassVar[DistributedTransaction | None] = None

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        return frozenset({"transaction"}) if cls.bound is None else frozenset()

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        transaction = inputs.get("transaction") or type(self).bound
        if not isinstance(transaction, DistributedTransaction):
            raise ValidationError(
                f"{self.type_name}: 'transaction' must be a DistributedTransaction", field="transaction"
            )
        outcome = await transaction.execute_async(inputs.get("parameters"), key=inputs.get("key"))
        return outcome.as_dict()
