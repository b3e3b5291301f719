"""``AuditHistoryNode``: one record's audit entries inside a workflow, read on the run's own session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from dataflow.database import live_instances
from dataflow.errors import ValidationError, WorkflowBuildError
from dataflow.nodes import Node

from .history import history
from .service import Audit

if TYPE_CHECKING:
    from dataflow.session import Session


class AuditHistoryNode(Node):
    """Inputs ``model``, ``id`` and optional ``actor``, ``operation``, ``since``, ``until``, ``limit``, ``database``.

    Outputs ``{"entries": [...], "count": n}``, newest first, each entry a dict
    (``at`` as ISO text). It reads on the run's session, so it sees the run's
    own uncommitted writes.
    """

    type_name: ClassVar[str] = "AuditHistoryNode"
    parameters: ClassVar[frozenset[str] | None] = frozenset(
        {"model", "id", "actor", "operation", "since", "until", "limit", "database"}
    )

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        return frozenset({"model", "id"})

    @classmethod
    def specialize(cls, node_id: str, params: Mapping[str, Any]) -> type[Node]:
        """The node bound to the audited database ``database`` names, or to the only open one."""
        if cls.database is not None:
            return cls
        wanted = params.get("database")
        instances = [
            db
            for db in live_instances()
            if Audit in db.extensions and (wanted is None or wanted is db or wanted == db.label)
        ]
        if len(instances) != 1:
            found = ", ".join(db.label for db in instances) or "none"
            raise WorkflowBuildError(
                f"node {node_id!r}: AuditHistoryNode needs one audited DataFlow; give 'database' "
                f"(the instance or its label); open: {found}",
                node_id=node_id,
            )
        return Audit.of(instances[0]).history_node(cls)

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None and self.database is not None, "specialize() binds the node to a database"
        model = inputs.get("model")
        if not isinstance(model, str):
            raise ValidationError(f"AuditHistoryNode: 'model' must be a model name, got {model!r}", field="model")
        schema = self.database.schema(model)
        for name in ("since", "until"):
            if inputs.get(name) is not None and not isinstance(inputs[name], dt.datetime):
                raise ValidationError(f"AuditHistoryNode: {name!r} must be a datetime", field=name)
        audit = Audit.of(self.database)
        entries = await history(
            session,
            audit.entries,
            schema,
            inputs.get("id"),
            actor=inputs.get("actor"),
            operation=inputs.get("operation"),
            since=inputs.get("since"),
            until=inputs.get("until"),
            limit=inputs.get("limit"),
        )
        entries = await audit.open_entries(session, entries)
        return {"entries": [e.as_dict() for e in entries], "count": len(entries)}
