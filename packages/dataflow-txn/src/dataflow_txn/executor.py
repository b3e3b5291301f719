"""Running a workflow's nodes on sessions the caller holds, inside the caller's transaction.

``AsyncLocalRuntime`` opens its own sessions and commits (or rolls back) at
the end of a run. A two-phase participant, a saga step or a savepoint scope
needs the opposite: run the nodes on a session whose transaction someone
else will prepare, commit or roll back. This runs them one at a time in
topological order, with the runtime's rules for connections: static
parameters, then values from connections (in order), then run-time
parameters; a connection whose condition is false skips its target and
everything downstream of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from time import perf_counter
from typing import TYPE_CHECKING, Any

from dataflow.errors import WorkflowBuildError, WorkflowError
from dataflow.events import NodeFinished, emit
from dataflow.workflow import Workflow, WorkflowBuilder
from dataflow.workflow.builder import Connection

if TYPE_CHECKING:
    from dataflow import DataFlow
    from dataflow.session import Session

Parameters = Mapping[str, Mapping[str, Any]]


def built(workflow: Workflow | WorkflowBuilder) -> Workflow:
    """``workflow`` built (and so validated) if it is a builder."""
    if isinstance(workflow, WorkflowBuilder):
        return workflow.build()
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


def _output_at(output: Any, connection: Connection) -> Any:
    value = output
    for part in connection.source_output:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            raise WorkflowError(
                f"node {connection.source!r} has no output {'.'.join(connection.source_output)!r} "
                f"for node {connection.target!r}",
                node_id=connection.target,
            )
    return value


def _set_input(inputs: dict[str, Any], value: Any, connection: Connection) -> None:
    path = connection.target_input
    if not path:
        if not isinstance(value, Mapping):
            raise WorkflowError(
                f"the output of {connection.source!r} is not an object and cannot fill {connection.target!r}'s inputs",
                node_id=connection.target,
            )
        inputs.update(value)
        return
    target = inputs
    for part in path[:-1]:
        nested = target.get(part)
        # Copy on write: static parameters are shared by every run of the workflow.
        target[part] = nested = dict(nested) if isinstance(nested, Mapping) else {}
        target = nested
    target[path[-1]] = value


async def run_on_sessions(
    workflow: Workflow,
    sessions: Mapping[DataFlow, Session],
    parameters: Parameters | None = None,
    *,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Run every node of ``workflow`` on ``sessions``; return outputs by node id.

    Nothing is committed or rolled back here. A failed node raises
    ``WorkflowError`` (``results`` holds what finished before it), as the
    runtime does.
    """
    run_id = run_id or uuid.uuid4().hex
    parameters = parameters or {}
    by_id = {id(db): session for db, session in sessions.items()}
    results: dict[str, Any] = {}
    skipped: set[str] = set()
    for node_id in workflow.order:
        spec = workflow.nodes[node_id]
        inputs = dict(spec.params)
        skip = False
        for connection in workflow.incoming[node_id]:
            if connection.source in skipped:
                skip = True
                break
            output = results[connection.source]
            if connection.condition is not None and not connection.condition.evaluate(output):
                skip = True
                break
            try:
                _set_input(inputs, _output_at(output, connection), connection)
            except WorkflowError as exc:
                raise WorkflowError(exc.message, node_id=node_id, results=results, run_id=run_id) from None
        if skip:
            skipped.add(node_id)
            continue
        runtime_params = parameters.get(node_id)
        if runtime_params:
            inputs = {**inputs, **runtime_params}
        results[node_id] = await _run_node(workflow, node_id, inputs, by_id, results, run_id)
    return results


async def _run_node(
    workflow: Workflow,
    node_id: str,
    inputs: dict[str, Any],
    sessions: Mapping[int, Session],
    results: dict[str, Any],
    run_id: str,
) -> Any:
    spec = workflow.nodes[node_id]
    node = spec.node_class(node_id, spec.params)
    db = spec.node_class.database
    session = sessions.get(id(db)) if db is not None else None
    if db is not None and session is None:
        raise WorkflowError(f"node {node_id!r} needs a session of {db.label}, which this run does not hold")
    started = perf_counter()
    error: BaseException | None = None
    try:
        return await node.run(session, inputs)
    except Exception as exc:
        error = exc
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise WorkflowError(
            f"node {node_id!r} ({spec.node_class.type_name}) failed: {message}",
            node_id=node_id,
            cause=exc,
            results=results,
            run_id=run_id,
        ) from exc
    finally:
        if db is not None and db.monitors:
            failed = type(error).__name__ if error is not None else None
            emit(
                db.monitors, NodeFinished(run_id, node_id, spec.node_class.type_name, perf_counter() - started, failed)
            )
