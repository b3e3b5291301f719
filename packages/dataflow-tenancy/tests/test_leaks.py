"""The leak shapes the reference implementation shipped, each tried against every backend.

Its parser-based rewriting missed quoted and upper-case identifiers, let
``$or`` widen the tenant condition, and bound the wrong value in upserts.
Here field names are checked against the schema before any SQL exists, and
the tenant condition is ANDed outside whatever the caller wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from tenancy_helpers import arun, customers, define_models, everything, fails, open_db, run

from dataflow import AsyncLocalRuntime, DataFlow, FilterError, ValidationError, WorkflowBuilder
from dataflow_tenancy import Tenancy

ACME, GLOBEX = "acme", "globex"

SPELLINGS = ["TENANT_ID", "Tenant_Id", '"tenant_id"', "`tenant_id`", "[tenant_id]", "tenant_id ", "customer.tenant_id"]

FILTERED: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = [
    ("CustomerListNode", lambda f: {"filter": f}),
    ("CustomerCountNode", lambda f: {"filter": f}),
    ("CustomerUpdateNode", lambda f: {"filter": f, "fields": {"name": "taken"}}),
    ("CustomerDeleteNode", lambda f: {"filter": f}),
    ("CustomerBulkUpdateNode", lambda f: {"filter": f, "fields": {"name": "taken"}}),
    ("CustomerBulkDeleteNode", lambda f: {"filter": f}),
]


def seed(db: DataFlow) -> list[dict[str, Any]]:
    run(db, "CustomerBulkCreateNode", {"data": customers(2, "g")}, tenant=GLOBEX)
    run(db, "CustomerBulkCreateNode", {"data": customers(2, "a")}, tenant=ACME)
    return everything(db, "Customer")


def test_quoted_and_upper_case_spellings_of_tenant_id_are_filter_errors(db: DataFlow) -> None:
    before = seed(db)
    for spelling in SPELLINGS:
        for node, params in FILTERED:
            for shape in ({spelling: GLOBEX}, {"$or": [{spelling: GLOBEX}]}, {"name": {"$ne": "x"}, spelling: GLOBEX}):
                error = fails(db, node, params(shape), tenant=ACME)
                assert isinstance(error, FilterError), (node, spelling, error)
                assert error.field == spelling
    assert everything(db, "Customer") == before


def test_quoted_names_in_order_by_and_fields_are_refused(db: DataFlow) -> None:
    seed(db)
    for spelling in SPELLINGS:
        assert isinstance(fails(db, "CustomerListNode", {"order_by": [spelling]}, tenant=ACME), FilterError)
        error = fails(db, "CustomerListNode", {"fields": ["name", spelling]}, tenant=ACME)
        assert isinstance(error, ValidationError) and error.field == spelling


@pytest.mark.parametrize(
    "widening",
    [
        {"$or": [{"tenant_id": GLOBEX}, {"name": {"$ne": "x"}}]},
        {"$or": [{"tenant_id": {"$ne": ACME}}, {"tenant_id": ACME}]},
        {"$or": [{"tenant_id": {"$in": [ACME, GLOBEX]}}]},
        {"$not": {"tenant_id": ACME}},
        {"tenant_id": {"$null": False}},
        {"$and": [{"$or": [{"tenant_id": GLOBEX}, {"score": {"$gte": 0}}]}]},
    ],
)
def test_a_filter_naming_tenant_id_cannot_widen_the_scope(db: DataFlow, widening: dict[str, Any]) -> None:
    before = seed(db)
    listed = run(db, "CustomerListNode", {"filter": widening}, tenant=ACME)["records"]
    assert {r["tenant_id"] for r in listed} <= {ACME}
    assert run(db, "CustomerCountNode", {"filter": widening}, tenant=ACME)["count"] == len(listed)
    updated = run(db, "CustomerUpdateNode", {"filter": widening, "fields": {"score": 7}}, tenant=ACME)
    assert updated == {"updated": len(listed)}
    assert run(db, "CustomerBulkDeleteNode", {"filter": widening}, tenant=ACME) == {"deleted": len(listed)}
    assert [r for r in everything(db, "Customer") if r["tenant_id"] == GLOBEX] == before[:2]


def test_concurrent_runs_of_different_tenants_on_one_pool_never_mix(any_database_url: str) -> None:
    db = open_db(any_database_url, pool_size=3)
    define_models(db)
    tenants = [f"t{i}" for i in range(6)]

    def workflow(tenant: str, round_: int) -> WorkflowBuilder:
        builder = WorkflowBuilder()
        builder.add_node(db.nodes["CustomerCreateNode"], "create", {"name": tenant, "email": f"{tenant}.{round_}@x"})
        builder.add_node(db.nodes["CustomerListNode"], "list", {})
        builder.add_node(db.nodes["CustomerCountNode"], "count", {})
        builder.add_connection("create", "id", "list", "filter.id")
        builder.add_connection("create", "id", "count", "filter.id")
        return builder

    async def as_tenant(tenant: str, by_block: bool) -> list[tuple[str, int]]:
        seen = []
        runtime = AsyncLocalRuntime()
        for round_ in range(4):
            if by_block:
                async with Tenancy.of(db).tenant(tenant):
                    results, _ = await runtime.execute_async(workflow(tenant, round_))
            else:
                results, _ = await runtime.execute_async(workflow(tenant, round_), tenant=tenant)
            seen += [(r["tenant_id"], results["count"]["count"]) for r in results["list"]["records"]]
            await asyncio.sleep(0)
        return seen

    async def all_tenants() -> list[list[tuple[str, int]]]:
        return list(await asyncio.gather(*(as_tenant(t, i % 2 == 0) for i, t in enumerate(tenants))))

    try:
        seen = arun(all_tenants)
        for tenant, rows in zip(tenants, seen, strict=True):
            assert rows == [(tenant, 1)] * 4
        stored = everything(db, "Customer")
        assert sorted((r["tenant_id"], r["name"]) for r in stored) == sorted((t, t) for t in tenants for _ in range(4))
        for tenant in tenants:
            assert run(db, "CustomerCountNode", {}, tenant=tenant) == {"count": 4}
    finally:
        db.close()
