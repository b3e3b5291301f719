"""What a saga is made of: its steps, the actions they run, the context they see, and its outcome.

The data types of the saga package: the runner, the service and the
``Saga`` definition build on them; they import none of those.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.nodes.base import Node
from dataflow.workflow import Workflow, WorkflowBuilder
from dataflow.workflow.builder import NodeSpec

from ..executor import Parameters, built

if TYPE_CHECKING:
    from dataflow import DataFlow

STEP_NAME = re.compile(r"\A[a-z][a-z0-9_]{0,39}\Z")


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
