"""Cross-tenant foreign keys: a write may reference only rows its tenant can see, on every write node.

A reference to another tenant's row gets the same ``ForeignKeyViolationError``
as a reference to no row at all, before any write: the tenant can neither
tie its rows to another tenant's (which would then block that tenant's
deletes) nor probe which of its ids exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from tenancy_helpers import everything, fails, open_db, run

from dataflow import DataFlow, ForeignKeyViolationError, MaxLength, ValidationError
from dataflow_tenancy import TenantRequiredError

ACME, GLOBEX = "acme", "globex"


@pytest.fixture
def db(any_database_url: str) -> Iterator[DataFlow]:
    instance = open_db(any_database_url)

    @instance.model
    class Plan:
        name: Annotated[str, MaxLength(50)]

    @instance.model
    class Customer:
        name: Annotated[str, MaxLength(50)]
        __dataflow__ = {"multi_tenant": True}

    @instance.model
    class Order:
        number: Annotated[str, MaxLength(20)]
        customer_id: Customer
        referrer_id: Customer | None = None
        plan_id: Plan | None = None
        __dataflow__ = {
            "multi_tenant": True,
            "unique": [("number",)],
            "relations": {"referrer_id": {"reverse": "referred_orders"}},
        }

    @instance.model
    class Shipment:
        label: Annotated[str, MaxLength(20)]
        customer_id: Customer | None = None

    yield instance
    instance.close()


@pytest.fixture
def ids(db: DataFlow) -> dict[str, int]:
    """acme's and globex's customer, a customer id no tenant has, and a shared plan."""
    mine = run(db, "CustomerCreateNode", {"name": "a"}, tenant=ACME)["id"]
    theirs = run(db, "CustomerCreateNode", {"name": "g"}, tenant=GLOBEX)["id"]
    plan = run(db, "PlanCreateNode", {"name": "gold"})["id"]
    return {"mine": mine, "theirs": theirs, "nobody": theirs + 1000, "plan": plan}


def order(ids: dict[str, int], **fields: Any) -> dict[str, Any]:
    return {"number": "A-1", "customer_id": ids["mine"], "plan_id": ids["plan"], **fields}


def refused_alike(db: DataFlow, ids: dict[str, int], node: str, params_for: Any) -> None:
    """``node`` fails the same way for another tenant's customer and for no customer, and writes nothing."""
    before = everything(db, "Order")
    answers = []
    for key in ("theirs", "nobody"):
        error = fails(db, node, params_for(ids[key]), tenant=ACME)
        assert isinstance(error, ForeignKeyViolationError), (node, error)
        assert error.model == "Order" and error.field in ("customer_id", "referrer_id"), error
        answers.append(error.message)
    assert answers[0] == answers[1]
    assert everything(db, "Order") == before


def test_create_refuses_another_tenants_parent(db: DataFlow, ids: dict[str, int]) -> None:
    refused_alike(db, ids, "OrderCreateNode", lambda key: order(ids, customer_id=key))
    refused_alike(db, ids, "OrderCreateNode", lambda key: order(ids, referrer_id=key))


def test_upsert_refuses_another_tenants_parent(db: DataFlow, ids: dict[str, int]) -> None:
    run(db, "OrderCreateNode", order(ids), tenant=ACME)
    # Both branches: a new number (insert) and an existing one (update).
    for number in ("A-1", "A-2"):
        refused_alike(
            db,
            ids,
            "OrderUpsertNode",
            lambda key, n=number: {**order(ids, customer_id=key, number=n), "conflict_on": ["number"]},
        )


def test_update_refuses_another_tenants_parent(db: DataFlow, ids: dict[str, int]) -> None:
    key = run(db, "OrderCreateNode", order(ids), tenant=ACME)["id"]
    refused_alike(db, ids, "OrderUpdateNode", lambda parent: {"id": key, "fields": {"customer_id": parent}})
    refused_alike(
        db, ids, "OrderUpdateNode", lambda parent: {"filter": {"number": "A-1"}, "fields": {"referrer_id": parent}}
    )


def test_bulk_create_refuses_a_batch_with_one_foreign_parent(db: DataFlow, ids: dict[str, int]) -> None:
    def batch(key: int) -> dict[str, Any]:
        rows = [order(ids, number=f"B-{i}") for i in range(3)]
        rows[2]["customer_id"] = key
        return {"data": rows}

    refused_alike(db, ids, "OrderBulkCreateNode", batch)
    refused_alike(db, ids, "OrderBulkCreateNode", lambda key: {**batch(key), "conflict_on": ["tenant_id", "number"]})


def test_bulk_update_and_upsert_refuse_another_tenants_parent(db: DataFlow, ids: dict[str, int]) -> None:
    key = run(db, "OrderCreateNode", order(ids), tenant=ACME)["id"]
    refused_alike(db, ids, "OrderBulkUpdateNode", lambda parent: {"data": [{"id": key, "customer_id": parent}]})
    refused_alike(
        db,
        ids,
        "OrderBulkUpdateNode",
        lambda parent: {"filter": {"number": "A-1"}, "fields": {"customer_id": parent}, "confirmed": True},
    )
    refused_alike(
        db,
        ids,
        "OrderBulkUpsertNode",
        lambda parent: {"data": [order(ids, customer_id=parent)], "conflict_on": ["tenant_id", "number"]},
    )


def test_references_to_the_tenants_own_rows_and_shared_rows_are_written(db: DataFlow, ids: dict[str, int]) -> None:
    created = run(db, "OrderCreateNode", order(ids, referrer_id=ids["mine"]), tenant=ACME)
    assert (created["customer_id"], created["referrer_id"], created["plan_id"]) == (
        ids["mine"],
        ids["mine"],
        ids["plan"],
    )
    rows = [order(ids, number=f"B-{i}", referrer_id=None) for i in range(3)]
    assert run(db, "OrderBulkCreateNode", {"data": rows}, tenant=ACME) == {"inserted": 3}
    assert run(db, "OrderBulkUpdateNode", {"data": [{"id": created["id"], "referrer_id": None}]}, tenant=ACME) == {
        "updated": 1
    }
    assert run(db, "OrderCountNode", {}, tenant=ACME) == {"count": 4}


def test_another_tenants_parent_stays_deletable(db: DataFlow, ids: dict[str, int]) -> None:
    fails(db, "OrderCreateNode", order(ids, customer_id=ids["theirs"]), tenant=ACME)
    assert run(db, "CustomerDeleteNode", {"id": ids["theirs"]}, tenant=GLOBEX) == {"deleted": 1}


def test_a_shared_model_references_tenants_rows_only_under_that_tenant(db: DataFlow, ids: dict[str, int]) -> None:
    error = fails(db, "ShipmentCreateNode", {"label": "s", "customer_id": ids["mine"]})
    assert isinstance(error, TenantRequiredError)
    error = fails(db, "ShipmentCreateNode", {"label": "s", "customer_id": ids["theirs"]}, tenant=ACME)
    assert isinstance(error, ForeignKeyViolationError) and error.field == "customer_id"
    assert (
        run(db, "ShipmentCreateNode", {"label": "s", "customer_id": ids["mine"]}, tenant=ACME)["customer_id"]
        == ids["mine"]
    )
    assert run(db, "ShipmentCreateNode", {"label": "none"})["customer_id"] is None
    assert run(db, "ShipmentCountNode", {}) == {"count": 2}


def test_a_reference_of_the_wrong_type_names_its_field(db: DataFlow, ids: dict[str, int]) -> None:
    error = fails(db, "OrderBulkCreateNode", {"data": [order(ids, customer_id="one")]}, tenant=ACME)
    assert isinstance(error, ValidationError) and error.model == "Order" and error.field == "customer_id"
    assert everything(db, "Order") == []
