"""Running a workflow's nodes on sessions the caller holds, inside the caller's transaction.

A two-phase participant, a saga step or a savepoint scope runs its nodes on
a session whose transaction someone else will prepare, commit or roll back;
the core runtime does that when given the sessions. This module also holds
the build-time checks those parts share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from dataflow.errors import WorkflowBuildError
from dataflow.workflow import AsyncLocalRuntime, Workflow, WorkflowBuilder

if TYPE_CHECKING:
    from dataflow import DataFlow
    from dataflow.session import Session

Parameters = Mapping[str, Mapping[str, Any]]


def built(workflow: Workflow | WorkflowBuilder, *, inputs_at_run: bool = False) -> Workflow:
    """``workflow`` built (and so validated) if it is a builder.

    ``inputs_at_run``: the workflow is a part (step, participant, scope) whose
    nodes get their required inputs as run-time parameters, so no placeholder
    values are needed when it is built.
    """
    if isinstance(workflow, WorkflowBuilder):
        return workflow.build(inputs_at_run=inputs_at_run)
    if not isinstance(workflow, Workflow):
        raise WorkflowBuildError(f"expected a workflow, got {type(workflow).__name__}")
    return workflow


def databases_of(workflow: Workflow) -> list[DataFlow]:
    """The databases the workflow's nodes use, in order of first use."""
    found: dict[int, DataFlow] = {}
    for node_id in workflow.order:
        db = workflow.nodes[node_id].node_class.database
        if db is not None:
            found.setdefault(id(db), db)
    return list(found.values())


def check_bound(workflow: Workflow, allowed: Iterable[DataFlow], where: str) -> None:
    """Refuse (at build time) nodes of databases other than ``allowed``."""
    allowed_ids = {id(db) for db in allowed}
    for node_id in workflow.order:
        db = workflow.nodes[node_id].node_class.database
        if db is not None and id(db) not in allowed_ids:
            raise WorkflowBuildError(
                f"{where}: node {node_id!r} ({workflow.nodes[node_id].node_class.type_name}) uses {db.label}, "
                "which is not this part's database; give each database its own participant or step",
                node_id=node_id,
            )


def check_parameters(workflow: Workflow, parameters: Parameters | None, where: str) -> None:
    for node_id in parameters or {}:
        if node_id not in workflow.nodes:
            raise WorkflowBuildError(f"{where}: parameters name unknown node {node_id!r}", node_id=node_id)


async def run_on_sessions(
    workflow: Workflow,
    sessions: Mapping[DataFlow, Session],
    parameters: Parameters | None = None,
    *,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Run every node of ``workflow`` on ``sessions``; return outputs by node id.

    Nothing is committed or rolled back here: the core runtime runs on the
    caller's sessions. A failed node raises ``WorkflowError`` (``results``
    holds what finished before it).
    """
    results, _ = await AsyncLocalRuntime().execute_async(workflow, parameters, sessions=sessions, run_id=run_id)
    return results
