"""Building workflows: nodes, connections, and the checks of ``build()``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import DataFlowError, WorkflowBuildError
from ..nodes.base import Node
from ..schema import suggest
from .expression import Expression, parse_condition
from .registry import resolve_node_type


@attrs.frozen
class Connection:
    """``source.source_output`` feeds ``target.target_input`` (both dotted paths)."""

    source: str
    source_output: tuple[str, ...]
    target: str
    target_input: tuple[str, ...]
    condition: Expression | None = None
    condition_text: str | None = None


@attrs.frozen
class NodeSpec:
    node_id: str
    node_class: type[Node]
    params: Mapping[str, Any]


@attrs.frozen
class Workflow:
    """A validated, immutable workflow; run it with a runtime."""

    nodes: Mapping[str, NodeSpec]
    connections: tuple[Connection, ...]
    order: tuple[str, ...]
    """Node ids in a topological order."""
    incoming: Mapping[str, tuple[Connection, ...]]
    outgoing: Mapping[str, tuple[Connection, ...]]


def _path(value: str | None, what: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if not isinstance(value, str):
        raise WorkflowBuildError(f"{what} must be a string, got {type(value).__name__}")
    parts = tuple(value.split("."))
    if any(not part for part in parts):
        raise WorkflowBuildError(f"{what} {value!r} is not a valid dotted path")
    return parts


class WorkflowBuilder:
    """Collects nodes and connections; :meth:`build` checks them and returns a :class:`Workflow`."""

    def __init__(self) -> None:
        self._nodes: dict[str, tuple[str | type[Node], dict[str, Any]]] = {}
        self._connections: list[Connection] = []

    def add_node(self, node_type: str | type[Node], node_id: str, params: Mapping[str, Any] | None = None) -> str:
        """Add a node; ``node_type`` is a name (``"UserCreateNode"``) or a class (``db.nodes[...]``)."""
        if not isinstance(node_id, str) or not node_id:
            raise WorkflowBuildError(f"node id must be a non-empty string, got {node_id!r}")
        if node_id in self._nodes:
            raise WorkflowBuildError(f"node id {node_id!r} is used twice", node_id=node_id)
        if params is not None and not isinstance(params, Mapping):
            raise WorkflowBuildError(f"parameters of node {node_id!r} must be a mapping", node_id=node_id)
        self._nodes[node_id] = (node_type, dict(params or {}))
        return node_id

    def add_connection(
        self,
        source: str,
        source_output: str | None,
        target: str,
        target_input: str | None,
        *,
        when: str | None = None,
    ) -> WorkflowBuilder:
        """Feed ``source``'s output at ``source_output`` into ``target``'s ``target_input``.

        An empty ``source_output`` passes the whole output; an empty
        ``target_input`` merges a dict output into the target's inputs.
        ``when`` is a condition on the source's output: when false, the
        connection does not fire and the target is skipped.
        """
        condition = parse_condition(when) if when is not None else None
        self._connections.append(
            Connection(
                source=source,
                source_output=_path(source_output, "source output"),
                target=target,
                target_input=_path(target_input, "target input"),
                condition=condition,
                condition_text=when,
            )
        )
        return self

    def build(self, *, inputs_at_run: bool = False) -> Workflow:
        """Check the workflow and freeze it.

        ``inputs_at_run=True`` is for a workflow that is a part of something
        larger (a saga step, a participant of a distributed transaction, a
        savepoint scope): its nodes' required inputs may arrive as run-time
        parameters, so only unknown inputs are refused here; a required input
        still missing when the part runs fails its node before any SQL.
        """
        nodes = {
            node_id: self._resolve(node_id, node_type, params) for node_id, (node_type, params) in self._nodes.items()
        }
        incoming: dict[str, list[Connection]] = {node_id: [] for node_id in nodes}
        outgoing: dict[str, list[Connection]] = {node_id: [] for node_id in nodes}
        for connection in self._connections:
            for end in (connection.source, connection.target):
                if end not in nodes:
                    raise WorkflowBuildError(
                        f"connection {connection.source} -> {connection.target} names unknown node {end!r}"
                        f"{suggest(end, nodes)}",
                        node_id=end,
                    )
            if connection.source == connection.target:
                raise WorkflowBuildError(
                    f"node {connection.source!r} is connected to itself", node_id=connection.source
                )
            incoming[connection.target].append(connection)
            outgoing[connection.source].append(connection)
        order = _topological_order(nodes, outgoing, incoming)
        for node_id, spec in nodes.items():
            _check_inputs(spec, incoming[node_id], require=not inputs_at_run)
        return Workflow(
            nodes=nodes,
            connections=tuple(self._connections),
            order=order,
            incoming={k: tuple(v) for k, v in incoming.items()},
            outgoing={k: tuple(v) for k, v in outgoing.items()},
        )

    def _resolve(self, node_id: str, node_type: str | type[Node], params: dict[str, Any]) -> NodeSpec:
        if isinstance(node_type, type) and issubclass(node_type, Node):
            node_class = node_type
        elif isinstance(node_type, str):
            node_class = resolve_node_type(node_type, node_id)
        else:
            raise WorkflowBuildError(f"node {node_id!r}: {node_type!r} is not a node type", node_id=node_id)
        return NodeSpec(node_id=node_id, node_class=node_class.specialize(node_id, params), params=params)


def _topological_order(
    nodes: Mapping[str, NodeSpec], outgoing: Mapping[str, list[Connection]], incoming: Mapping[str, list[Connection]]
) -> tuple[str, ...]:
    waiting = {node_id: len({c.source for c in incoming[node_id]}) for node_id in nodes}
    ready = [node_id for node_id, count in waiting.items() if count == 0]
    order: list[str] = []
    while ready:
        node_id = ready.pop(0)
        order.append(node_id)
        for target in dict.fromkeys(c.target for c in outgoing[node_id]):
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    if len(order) != len(nodes):
        cycle = sorted(node_id for node_id in nodes if node_id not in order)
        raise WorkflowBuildError(f"the workflow has a cycle through nodes {', '.join(cycle)}", node_id=cycle[0])
    return tuple(order)


def _check_inputs(spec: NodeSpec, incoming: list[Connection], *, require: bool) -> None:
    provided = set(spec.params)
    merges_whole_output = False
    for connection in incoming:
        if connection.target_input:
            provided.add(connection.target_input[0])
        else:
            merges_whole_output = True
    try:
        spec.node_class.check_inputs(frozenset(provided))
    except DataFlowError as exc:
        raise WorkflowBuildError(f"node {spec.node_id!r}: {exc.message}", node_id=spec.node_id) from None
    if merges_whole_output or not require:
        return
    missing = sorted(spec.node_class.required_inputs() - provided)
    if missing:
        raise WorkflowBuildError(
            f"node {spec.node_id!r} ({spec.node_class.type_name}) needs {', '.join(map(repr, missing))}, "
            "which neither its parameters nor a connection provide",
            node_id=spec.node_id,
        )
