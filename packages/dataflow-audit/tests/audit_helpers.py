"""What the tests (and the scripts they start) share: the models and small runners."""

from __future__ import annotations

from typing import Annotated, Any

from dataflow import DataFlow, LocalRuntime, MaxLength, WorkflowBuilder
from dataflow.testing.helpers import open_db  # noqa: F401 - re-exported: the tests and their scripts import it here


def define_models(db: DataFlow) -> None:
    @db.model
    class User:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(200)]
        age: int = 0
        __dataflow__ = {"audit": True, "unique": [("email",)]}

    @db.model
    class Note:
        title: Annotated[str, MaxLength(100)]
        body: str = ""
        views: int = 0
        __dataflow__ = {"audit": ["title", "body"]}

    @db.model
    class Tag:
        label: Annotated[str, MaxLength(50)]


def run_node(db: DataFlow, node: str, params: dict[str, Any], node_id: str = "node", **options: Any) -> Any:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes[node], node_id, params)
    results, _ = LocalRuntime().execute(workflow.build(), **options)
    return results[node_id]


def audit_rows(db: DataFlow) -> list[dict[str, Any]]:
    """Every row of the audit table, by id (raw SQL: what is really stored)."""
    rows: list[dict[str, Any]] = db.sql("SELECT * FROM dataflow_audit ORDER BY id")
    return rows


def people(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"name": f"user{i}", "email": f"user{i}@example.com", "age": i % 90} for i in range(start, start + n)]
