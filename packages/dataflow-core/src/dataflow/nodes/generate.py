"""The twelve node classes of a model, made by subclassing one class per operation."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ..schema import ModelSchema
from .aggregate import AggregateNode
from .base import AS_TENANT, REPLICA, ModelNode
from .bulk import BulkCreateNode, BulkDeleteNode, BulkUpdateNode, BulkUpsertNode
from .capture import capture_for, run_captured
from .crud import CreateNode, DeleteNode, ReadNode, UpdateNode, UpsertNode
from .query import CountNode, ListNode

if TYPE_CHECKING:
    from ..database import DataFlow

OPERATIONS: dict[str, type[ModelNode]] = {
    "Create": CreateNode,
    "Read": ReadNode,
    "Update": UpdateNode,
    "Delete": DeleteNode,
    "List": ListNode,
    "Count": CountNode,
    "Upsert": UpsertNode,
    "BulkCreate": BulkCreateNode,
    "BulkUpdate": BulkUpdateNode,
    "BulkDelete": BulkDeleteNode,
    "BulkUpsert": BulkUpsertNode,
    "Aggregate": AggregateNode,
}


def model_nodes(db: DataFlow, schema: ModelSchema) -> dict[str, type[ModelNode]]:
    """``{"UserCreateNode": <class>, ...}`` bound to ``db`` and ``schema``."""
    nodes: dict[str, type[ModelNode]] = {}
    listeners = tuple(listener for listener in db.change_listeners if listener.captures(schema))
    if listeners:
        db.captured[schema.name] = listeners
    for suffix, base in OPERATIONS.items():
        name = f"{schema.name}{suffix}Node"
        parameters = base.parameters_for(schema)
        attributes = {
            "type_name": name,
            "schema": schema,
            "db": db,
            # Every model node takes the reserved ``as_tenant`` and ``replica`` (see nodes/base.py and the runtime).
            "parameters": None if parameters is None else parameters | {AS_TENANT, REPLICA},
            "database": db,
            "__doc__": f"{base.__doc__}\n\nGenerated for model {schema.name} on {db.label}.",
            "__module__": __name__,
        }
        capture = capture_for(base) if listeners else None
        if capture is not None:
            # A partial, not a function: the class attribute does not bind to instances.
            attributes["captured_run"] = functools.partial(run_captured, capture=capture, listeners=listeners)
        nodes[name] = type(name, (base,), attributes)
    return nodes
