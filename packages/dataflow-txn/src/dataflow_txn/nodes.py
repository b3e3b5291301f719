"""Workflow nodes that run a distributed transaction or a saga.

They use no session of the run: each opens its own connections and commits
on its own, whatever the run's ``transaction`` flag. Their output reports
the pattern used (``"2pc"`` or ``"saga"``) and every participant's results.

``DistributedTransactionNode`` and ``SagaNode`` are registered by name (the
transaction or saga is their ``transaction`` / ``saga`` input);
``txn.node()`` and ``saga.node()`` make node types bound to one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from dataflow.errors import ValidationError
from dataflow.nodes.base import Node

if TYPE_CHECKING:
    from dataflow.session import Session

    from .distributed import DistributedTransaction
    from .saga import Saga


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
        from .distributed import DistributedTransaction

        transaction = inputs.get("transaction") or type(self).bound
        if not isinstance(transaction, DistributedTransaction):
            raise ValidationError(
                f"{self.type_name}: 'transaction' must be a DistributedTransaction", field="transaction"
            )
        outcome = await transaction.execute_async(inputs.get("parameters"), key=inputs.get("key"))
        return outcome.as_dict()


class SagaNode(Node):
    """Runs a :class:`~dataflow_txn.Saga`.

    Inputs: ``saga`` (unless the node type is bound to one), ``input`` (the
    saga's input), ``key`` (idempotency key). Output: ``{"pattern": "saga",
    "saga_id", "results", "replayed"}``; a failed saga raises ``SagaError``
    after compensating.
    """

    type_name: ClassVar[str] = "SagaNode"
    parameters: ClassVar[frozenset[str] | None] = frozenset({"saga", "input", "key"})
    bound: ClassVar[Saga | None] = None

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        return frozenset({"saga"}) if cls.bound is None else frozenset()

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        from .saga import Saga

        saga = inputs.get("saga") or type(self).bound
        if not isinstance(saga, Saga):
            raise ValidationError(f"{self.type_name}: 'saga' must be a Saga", field="saga")
        outcome = await saga.execute_async(inputs.get("input"), key=inputs.get("key"))
        return {
            "pattern": "saga",
            "saga_id": outcome.saga_id,
            "results": dict(outcome.results),
            "replayed": outcome.replayed,
        }


def distributed_transaction_node(transaction: DistributedTransaction, type_name: str) -> type[Node]:
    return type(type_name, (DistributedTransactionNode,), {"type_name": type_name, "bound": transaction})


def saga_node(saga: Saga, type_name: str) -> type[Node]:
    return type(type_name, (SagaNode,), {"type_name": type_name, "bound": saga})
