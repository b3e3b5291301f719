"""Resolving node type names to classes.

A name resolves through the open ``DataFlow`` instances of the process and the
node types plugins register. A name that more than one instance defines is an
error: pass the class (``db.nodes["UserCreateNode"]``) instead.
"""

from __future__ import annotations

from ..database import live_instances
from ..errors import WorkflowBuildError
from ..nodes.base import Node
from ..plugins import plugin_host
from ..schema import suggest


def plugin_node_types() -> dict[str, type[Node]]:
    return plugin_host().cached("dataflow_register_node_types", lambda pairs: dict(pairs))


def resolve_node_type(name: str, node_id: str) -> type[Node]:
    candidates: list[type[Node]] = [db.nodes[name] for db in live_instances() if name in db.nodes]
    plugin_type = plugin_node_types().get(name)
    if plugin_type is not None:
        candidates.append(plugin_type)
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise WorkflowBuildError(
            f"node {node_id!r}: {len(candidates)} DataFlow instances define {name!r}; "
            f"pass the class instead, e.g. add_node(db.nodes[{name!r}], {node_id!r}, ...)",
            node_id=node_id,
        )
    known = {n for db in live_instances() for n in db.nodes} | set(plugin_node_types())
    raise WorkflowBuildError(f"node {node_id!r}: unknown node type {name!r}{suggest(name, known)}", node_id=node_id)
