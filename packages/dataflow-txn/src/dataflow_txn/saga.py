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
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.errors import ConfigError, WorkflowBuildError
from dataflow.loops import run_sync
from dataflow.nodes.base import Node
from dataflow.workflow import Workflow, WorkflowBuilder
from dataflow.workflow.builder import NodeSpec

from .executor import Parameters, built, check_bound

if TYPE_CHECKING:
    from dataflow import DataFlow

    from .sagas import SagaService

STEP_NAME = re.compile(r"\A[a-z][a-z0-9_]{0,39}\Z")
SAGA_NAME = re.compile(r"\A[A-Za-z][A-Za-z0-9_.-]{0,99}\Z")


@attrs.frozen
class SagaContext:
    """What a step's parameter function sees: the saga's input and the completed steps' outputs."""

    saga_id: str
    input: Mapping[str, Any]
    results: Mapping[str, Any]


Target = Workflow | WorkflowBuilder | type[Node]
StepParams = Mapping[str, Any] | Callable[[SagaContext], Mapping[str, Any]] | None
CompensationParams = Mapping[str, Any] | Callable[[SagaContext, Any], Mapping[str, Any]] | None


@attrs.frozen
class Action:
    """A workflow to run, or one node wrapped in one (``single`` is its node id; its output is the result)."""

    workflow: Workflow
    single: str | None = None

    @classmethod
    def of(cls, target: Target, node_id: str) -> Action:
        if isinstance(target, type) and issubclass(target, Node):
            # Built by hand, not by WorkflowBuilder.build(): the node's inputs arrive at run
            # time (the step's parameters), which build() cannot know; the node validates them.
            spec = NodeSpec(node_id=node_id, node_class=target, params={})
            workflow = Workflow(
                nodes={node_id: spec}, connections=(), order=(node_id,), incoming={node_id: ()}, outgoing={node_id: ()}
            )
            return cls(workflow, node_id)
        return cls(built(target, inputs_at_run=True))

    def parameters(self, params: Mapping[str, Any] | None) -> Parameters:
        """Run-time parameters by node id: a single node's parameters are its own inputs."""
        if not params:
            return {}
        if self.single is not None:
            return {self.single: dict(params)}
        return {node_id: dict(values) for node_id, values in params.items()}

    def output(self, results: Mapping[str, Any]) -> Any:
        return results.get(self.single) if self.single is not None else dict(results)


@attrs.frozen
class SagaStep:
    name: str
    db: DataFlow
    action: Action
    params: StepParams = None
    compensation: Action | None = None
    compensation_params: CompensationParams = None

    def resolve_params(self, context: SagaContext) -> Mapping[str, Any]:
        params = self.params(context) if callable(self.params) else self.params
        return dict(params or {})

    def resolve_compensation_params(self, context: SagaContext, output: Any) -> Mapping[str, Any]:
        params = self.compensation_params
        params = params(context, output) if callable(params) else params
        return dict(params or {})


@attrs.frozen
class SagaOutcome:
    """A saga that completed: every step's output by step name; ``replayed`` when its key had completed before."""

    saga_id: str
    results: Mapping[str, Any]
    replayed: bool = False
    status: str = "completed"
    pattern: str = "saga"


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
        from .sagas import sagas_of

        return sagas_of(self.log)

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
        from .saga_runner import start

        self.check()
        return await start(self, dict(input or {}), key, context or {})

    def execute(self, input: Mapping[str, Any] | None = None, **options: Any) -> SagaOutcome:
        """Synchronous :meth:`execute_async`."""
        from dataflow.database import close_loop_pools

        return run_sync(lambda: self.execute_async(input, **options), cleanup=close_loop_pools)

    def node(self, type_name: str = "SagaNode") -> type[Node]:
        """A workflow node type that runs this saga: inputs ``input`` and ``key``; output the outcome as a dict."""
        from .nodes import saga_node

        return saga_node(self, type_name)
