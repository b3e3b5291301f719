"""The twelve node classes of a model, made by subclassing one class per operation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..schema import ModelSchema
from .aggregate import AggregateNode
from .base import AS_TENANT, REPLICA, ModelNode
from .bulk import BulkCreateNode, BulkDeleteNode, BulkUpdateNode, BulkUpsertNode
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
        nodes[name] = type(name, (base,), attributes)
    return nodes
