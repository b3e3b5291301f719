"""Sagas: steps on one or more databases, each with a compensation, run in order.

Each step commits on its own (one transaction on its database, with an
idempotency marker). When a step fails, the compensations of the completed
steps run in reverse order. The saga log (``dataflow_saga`` and
``dataflow_saga_step`` in the ``log`` database) is written before each step,
so ``await log.sagas.recover()`` can finish, or compensate, a saga whose
process died. Recovery needs the saga's definition: the recovering process
defines the same ``Saga`` (same name, same steps) before it recovers.

    saga = Saga("order", log=shop)
    saga.step("reserve", stock, stock.nodes["ReservationCreateNode"],
              params=lambda ctx: {"sku": ctx.input["sku"], "qty": 1},
              compensation=stock.nodes["ReservationDeleteNode"],
              compensation_params=lambda ctx, out: {"id": out["id"]})
    saga.step("order", shop, shop.nodes["OrderCreateNode"], params=...)
    outcome = await saga.execute_async({"sku": "A1"}, key="order-42")
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from dataflow.database import close_loop_pools
from dataflow.errors import ConfigError, ValidationError, WorkflowBuildError
from dataflow.loops import run_sync
from dataflow.nodes.base import Node

from ..executor import check_bound
from .runner import start
from .service import SagaService
from .steps import STEP_NAME, Action, CompensationParams, SagaOutcome, SagaStep, StepParams, Target

if TYPE_CHECKING:
    from dataflow import DataFlow
    from dataflow.session import Session

SAGA_NAME = re.compile(r"\A[A-Za-z][A-Za-z0-9_.-]{0,99}\Z")


class Saga:
    """A named sequence of compensable steps, logged in ``log``.

    ``forward_recoverable``: recovery of a saga left running completes its
    remaining steps (each is idempotent) instead of compensating the
    completed ones.
    """

    def __init__(self, name: str, *, log: DataFlow, forward_recoverable: bool = False) -> None:
        if not isinstance(name, str) or SAGA_NAME.match(name) is None:
            raise ConfigError(f"saga name {name!r}: use letters, digits, '_', '.', '-' (at most 100)", field="name")
        self.name = name
        self.log = log
        self.forward_recoverable = forward_recoverable
        self.steps: list[SagaStep] = []
        self.service.register(self)

    @property
    def service(self) -> SagaService:
        return SagaService.of(self.log)

    def __repr__(self) -> str:
        return f"Saga({self.name!r}, steps={[step.name for step in self.steps]})"

    def step(
        self,
        name: str,
        db: DataFlow,
        action: Target,
        *,
        params: StepParams = None,
        compensation: Target | None = None,
        compensation_params: CompensationParams = None,
    ) -> Saga:
        """Add a step: ``action`` (a node class or a workflow) runs on ``db`` in one transaction.

        ``params`` are its run-time parameters (a node's inputs, or a
        workflow's by node id), or a function of the :class:`SagaContext`.
        ``compensation`` undoes it; ``compensation_params`` is a function of
        the context and the step's output. Only the last step may go without
        a compensation (nothing after it can fail).
        """
        if not isinstance(name, str) or STEP_NAME.match(name) is None:
            raise WorkflowBuildError(f"saga step name {name!r}: use 1-40 of a-z, 0-9 and '_', starting with a letter")
        if any(step.name == name for step in self.steps):
            raise WorkflowBuildError(f"saga {self.name!r} already has a step {name!r}")
        if self.steps and self.steps[-1].compensation is None:
            raise WorkflowBuildError(
                f"saga {self.name!r}: step {self.steps[-1].name!r} has no compensation, so no step may follow it"
            )
        step_action = Action.of(action, name)
        check_bound(step_action.workflow, [db], f"saga {self.name!r} step {name!r}")
        undo = Action.of(compensation, f"undo_{name}"[:40]) if compensation is not None else None
        if undo is not None:
            check_bound(undo.workflow, [db], f"saga {self.name!r} compensation of {name!r}")
        self.steps.append(SagaStep(name, db, step_action, params, undo, compensation_params))
        return self

    def check(self) -> None:
        if not self.steps:
            raise WorkflowBuildError(f"saga {self.name!r} has no steps")

    async def execute_async(
        self,
        input: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> SagaOutcome:
        """Run the saga; ``key`` (an idempotency key) makes a second call return the first one's outcome.

        A failed step raises ``SagaError`` after the completed steps were
        compensated.
        """
        self.check()
        return await start(self, dict(input or {}), key, context or {})

    def execute(self, input: Mapping[str, Any] | None = None, **options: Any) -> SagaOutcome:
        """Synchronous :meth:`execute_async`."""
        return run_sync(lambda: self.execute_async(input, **options), cleanup=close_loop_pools)

    def node(self, type_name: str = "SagaNode") -> type[Node]:
        """A workflow node type that runs this saga: inputs ``input`` and ``key``; output the outcome as a dict."""
        return type(type_name, (SagaNode,), {"type_name": type_name, "bound": self})


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
