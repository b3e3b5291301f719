"""Models and helpers the tenancy tests share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

import pytest

from dataflow import DataFlow, LocalRuntime, MaxLength, WorkflowBuilder, WorkflowError
from dataflow.loops import run_sync

T = TypeVar("T")


def open_db(url: str, **options: Any) -> DataFlow:
    return DataFlow(url, env="test", **options)


def define_models(db: DataFlow) -> None:
    """Customer (unique email), Invoice (timestamps, soft delete), Note (not tenant-scoped)."""

    @db.model
    class Customer:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(200)]
        score: int = 0
        __dataflow__ = {"multi_tenant": True, "unique": [("email",)]}

    @db.model
    class Invoice:
        number: Annotated[str, MaxLength(50)]
        amount: int = 0
        __dataflow__ = {"multi_tenant": True, "unique": [("number",)], "timestamps": True, "soft_delete": True}

    @db.model
    class Note:
        text: Annotated[str, MaxLength(200)]


def run(db: DataFlow, node: str, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
    """Run a one-node workflow of ``db.nodes[node]``; return its output."""
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes[node], "node", dict(params or {}))
    results, _ = LocalRuntime().execute(workflow.build(), **options)
    return results["node"]


def fails(db: DataFlow, node: str, params: Mapping[str, Any] | None = None, **options: Any) -> BaseException:
    """The cause of the failure of a one-node workflow (the test fails if it succeeds)."""
    with pytest.raises(WorkflowError) as info:
        run(db, node, params, **options)
    assert info.value.cause is not None
    return info.value.cause


def everything(db: DataFlow, model: str) -> list[dict[str, Any]]:
    """Every row of ``model``, all tenants, ordered by id (an admin-scope List)."""
    result = run(db, f"{model}ListNode", {"order_by": ["id"]}, context={"tenant_admin": "test check"})
    return list(result["records"])


def arun(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on the thread's loop, the one the synchronous runtime's pools live on."""

    async def main() -> T:
        return await make()

    return run_sync(main)


def backend(db: DataFlow) -> str:
    return db.dialect.name


def customers(n: int, prefix: str = "c") -> list[dict[str, Any]]:
    return [{"name": f"{prefix}{i}", "email": f"{prefix}{i}@example.com", "score": i} for i in range(n)]
