"""``SQLNode``: one raw SQL statement in a workflow, on the run's session and inside its transaction.

    wf.add_node("SQLNode", "top", {"query": "SELECT region, SUM(total) AS total FROM orders "
                                            "WHERE placed > :since GROUP BY region", "params": {"since": day}})

With several ``DataFlow`` instances open, ``database`` (the instance or its
label) says which database the statement runs on; it must be given when the
node is added, since the run opens the session before the node runs. It runs
on the primary unless ``read_only=True`` says it only reads (docs/scaling.md).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

from ..database import DataFlow, live_instances
from ..errors import WorkflowBuildError
from ..nodes.base import Node
from ..raw_sql import check_result, run_sql
from ..session import Session

_bound: weakref.WeakKeyDictionary[DataFlow, type[Node]] = weakref.WeakKeyDictionary()


class SQLNode(Node):
    """One raw SQL statement with named placeholders; outputs ``rows``/``count``, ``row``, ``value`` or ``rowcount``."""

    type_name: ClassVar[str] = "SQLNode"
    parameters: ClassVar[frozenset[str] | None] = frozenset(
        {"query", "params", "result", "database", "read_only", "replica", "model"}
    )

    @classmethod
    def reads_only(cls, inputs: Mapping[str, Any]) -> bool:
        """``read_only=True`` promises the statement only reads: outside a transaction it may run on a replica."""
        return inputs.get("read_only") is True

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        return frozenset({"query"})

    @classmethod
    def specialize(cls, node_id: str, params: Mapping[str, Any]) -> type[Node]:
        """The node bound to the database that ``database`` names, or to the only open one."""
        if cls.database is not None:
            return cls
        wanted = params.get("database")
        instances = [db for db in live_instances() if wanted is None or wanted is db or wanted == db.label]
        if len(instances) == 1:
            db = instances[0]
            if db not in _bound:
                _bound[db] = type("SQLNode", (cls,), {"database": db, "__module__": __name__})
            return _bound[db]
        if not instances:
            raise WorkflowBuildError(f"node {node_id!r}: no open DataFlow is {wanted!r}", node_id=node_id)
        labels = ", ".join(db.label for db in instances)
        raise WorkflowBuildError(
            f"node {node_id!r}: {len(instances)} DataFlow instances are open ({labels}); "
            "give SQLNode a 'database' (the instance or its label)",
            node_id=node_id,
        )

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None, "specialize() binds SQLNode to a database"
        result = check_result(inputs.get("result", "rows"))
        output = await run_sql(
            session, inputs.get("query"), inputs.get("params"), result, model=inputs.get("model"), node_id=self.node_id
        )
        if result == "rows":
            return {"rows": output, "count": len(output)}
        return {"rowcount" if result == "none" else result: output}
