"""Row-level isolation on every backend, for all eleven node types and every bulk strategy.

Each test lets ``globex`` write first, then acts as ``acme`` and checks,
through an admin-scope read, that globex's rows are exactly as they were.
Bulk tests force each registered strategy by name (those that cannot run on
the backend are left out).
"""

from __future__ import annotations

from typing import Any

import pytest
from tenancy_helpers import arun, customers, everything, fails, run

from dataflow import DataFlow, NotFoundError, ValidationError, WorkflowError
from dataflow.bulk.strategy import offered_strategies, registered_bulk_strategies
from dataflow_tenancy import TenantMismatchError, purge_tenant

ACME, GLOBEX = "acme", "globex"


def strategy_names(db: DataFlow, operation: str) -> list[str]:
    """The generic strategies and ``db``'s dialect's own, for ``operation``."""
    offered = offered_strategies(registered_bulk_strategies(), db.dialect)
    return sorted({s.name for s in offered if s.operation == operation})


def forced(db: DataFlow, node: str, params: dict[str, Any], strategy: str, tenant: str) -> Any:
    """Run ``node`` with ``strategy`` forced; None when the strategy cannot run on this backend."""
    try:
        return run(db, node, {**params, "strategy": strategy}, tenant=tenant)
    except WorkflowError as error:
        cause = error.cause
        if isinstance(cause, ValidationError) and cause.field == "strategy" and "cannot run" in cause.message:
            return None
        raise


def seed_globex(db: DataFlow, n: int = 3) -> list[dict[str, Any]]:
    run(db, "CustomerBulkCreateNode", {"data": customers(n, "g")}, tenant=GLOBEX)
    return everything(db, "Customer")


def globex_rows(db: DataFlow) -> list[dict[str, Any]]:
    return [r for r in everything(db, "Customer") if r["tenant_id"] == GLOBEX]


# -- single-record nodes ------------------------------------------------------------------


def test_read_update_delete_by_the_id_of_another_tenants_row_find_nothing(db: DataFlow) -> None:
    before = seed_globex(db, 1)
    key = before[0]["id"]
    assert isinstance(fails(db, "CustomerReadNode", {"id": key}, tenant=ACME), NotFoundError)
    assert run(db, "CustomerReadNode", {"id": key, "raise_on_not_found": False}, tenant=ACME) is None
    error = fails(db, "CustomerUpdateNode", {"id": key, "fields": {"name": "taken"}}, tenant=ACME)
    assert isinstance(error, NotFoundError)
    assert isinstance(fails(db, "CustomerDeleteNode", {"id": key}, tenant=ACME), NotFoundError)
    assert run(db, "CustomerDeleteNode", {"id": key, "raise_on_not_found": False}, tenant=ACME) == {"deleted": 0}
    assert globex_rows(db) == before


def test_filtered_statements_see_only_the_tenants_rows(db: DataFlow) -> None:
    before = seed_globex(db)
    run(db, "CustomerBulkCreateNode", {"data": customers(2, "a")}, tenant=ACME)
    listed = run(db, "CustomerListNode", {"order_by": ["-score"]}, tenant=ACME)
    assert [r["name"] for r in listed["records"]] == ["a1", "a0"]
    assert run(db, "CustomerCountNode", {}, tenant=ACME) == {"count": 2}
    assert run(db, "CustomerCountNode", {"filter": {"score": {"$gte": 0}}}, tenant=ACME) == {"count": 2}
    everyone = {"score": {"$gte": 0}}
    assert run(db, "CustomerUpdateNode", {"filter": everyone, "fields": {"name": "x"}}, tenant=ACME) == {"updated": 2}
    update = {"filter": {}, "fields": {"score": 99}, "confirmed": True}
    assert run(db, "CustomerBulkUpdateNode", update, tenant=ACME) == {"updated": 2}
    assert run(db, "CustomerDeleteNode", {"filter": everyone}, tenant=ACME) == {"deleted": 2}
    run(db, "CustomerBulkCreateNode", {"data": customers(2, "a")}, tenant=ACME)
    assert run(db, "CustomerBulkDeleteNode", {"filter": {}, "confirmed": True}, tenant=ACME) == {"deleted": 2}
    assert globex_rows(db) == before


def test_create_fills_the_tenant_and_refuses_another(db: DataFlow) -> None:
    assert run(db, "CustomerCreateNode", {"name": "a", "email": "a@x"}, tenant=ACME)["tenant_id"] == ACME
    same = {"name": "b", "email": "b@x", "tenant_id": ACME}
    assert run(db, "CustomerCreateNode", same, tenant=ACME)["tenant_id"] == ACME
    other = {"name": "c", "email": "c@x", "tenant_id": GLOBEX}
    assert isinstance(fails(db, "CustomerCreateNode", other, tenant=ACME), TenantMismatchError)
    assert [r["name"] for r in everything(db, "Customer")] == ["a", "b"]


def test_an_upsert_whose_key_exists_under_another_tenant_creates_the_tenants_own_row(db: DataFlow) -> None:
    before = seed_globex(db, 1)
    email = before[0]["email"]
    # The core puts tenant_id in front of a business-key conflict_on, so ["email"] is enough, MySQL included.
    targets = [["tenant_id", "email"], ["email"]]
    for number, conflict_on in enumerate(targets):
        params = {"name": f"mine{number}", "email": email, "conflict_on": conflict_on}
        result = run(db, "CustomerUpsertNode", params, tenant=ACME)
        assert result["created"] is (number == 0)
        assert result["record"]["tenant_id"] == ACME
    assert globex_rows(db) == before
    assert run(db, "CustomerCountNode", {}, tenant=ACME) == {"count": 1}


def test_an_upsert_by_the_id_of_another_tenants_row_is_refused(db: DataFlow) -> None:
    before = seed_globex(db, 1)
    params = {"id": before[0]["id"], "name": "taken", "email": "new@x", "conflict_on": ["id"]}
    # Ids are the database's to choose under a tenant (see test_keys): refused before any SQL.
    error = fails(db, "CustomerUpsertNode", params, tenant=ACME)
    assert isinstance(error, ValidationError) and error.field == "id"
    assert globex_rows(db) == before
    assert run(db, "CustomerCountNode", {}, tenant=ACME) == {"count": 0}


def test_an_upsert_naming_another_tenant_is_refused(db: DataFlow) -> None:
    params = {"name": "x", "email": "x@x", "tenant_id": GLOBEX, "conflict_on": ["tenant_id", "email"]}
    assert isinstance(fails(db, "CustomerUpsertNode", params, tenant=ACME), TenantMismatchError)
    assert everything(db, "Customer") == []


def test_no_update_can_change_tenant_id(db: DataFlow) -> None:
    record = run(db, "CustomerCreateNode", {"name": "a", "email": "a@x"}, tenant=ACME)
    key = record["id"]
    attempts = [
        ("CustomerUpdateNode", {"id": key, "fields": {"tenant_id": GLOBEX}}),
        ("CustomerUpdateNode", {"filter": {}, "fields": {"tenant_id": GLOBEX}}),
        ("CustomerBulkUpdateNode", {"data": [{"id": key, "tenant_id": GLOBEX}]}),
        ("CustomerBulkUpdateNode", {"filter": {}, "fields": {"tenant_id": GLOBEX}, "confirmed": True}),
        ("CustomerUpsertNode", {"name": "a", "email": "a@x", "update_fields": ["tenant_id"]}),
        ("CustomerBulkUpsertNode", {"data": [{"name": "a", "email": "a@x"}], "update_fields": ["tenant_id"]}),
    ]
    for node, params in attempts:
        error = fails(db, node, params, tenant=ACME)
        assert isinstance(error, ValidationError) and error.field == "tenant_id", (node, error)
    assert everything(db, "Customer") == [record]


def test_soft_deleted_and_other_tenants_rows_stay_out_of_sight(db: DataFlow) -> None:
    run(db, "InvoiceCreateNode", {"number": "G-1"}, tenant=GLOBEX)
    mine = run(db, "InvoiceCreateNode", {"number": "A-1"}, tenant=ACME)
    assert run(db, "InvoiceBulkDeleteNode", {"filter": {}, "confirmed": True}, tenant=ACME) == {"deleted": 1}
    assert run(db, "InvoiceCountNode", {}, tenant=ACME) == {"count": 0}
    assert run(db, "InvoiceCountNode", {}, tenant=GLOBEX) == {"count": 1}
    params = {"number": "A-1", "amount": 5, "conflict_on": ["tenant_id", "number"]}
    # Unique among live rows: the soft-deleted row holds no key, so the upsert makes a new row and
    # neither revives nor touches the old one.
    upserted = run(db, "InvoiceUpsertNode", params, tenant=ACME)
    assert upserted["created"] is True and upserted["record"]["id"] != mine["id"]
    assert run(db, "InvoiceReadNode", {"id": mine["id"], "raise_on_not_found": False}, tenant=ACME) is None
    assert run(db, "InvoiceCountNode", {}, tenant=ACME) == {"count": 1}
    assert run(db, "InvoiceCountNode", {}, tenant=GLOBEX) == {"count": 1}


# -- bulk nodes, every strategy ---------------------------------------------------------


def test_bulk_create_fills_the_tenant_with_every_strategy(db: DataFlow) -> None:
    ran = []
    for number, name in enumerate(strategy_names(db, "create")):
        data = customers(3, f"s{number}-")
        if forced(db, "CustomerBulkCreateNode", {"data": data}, name, ACME) is not None:
            ran.append(name)
    assert ran
    rows = everything(db, "Customer")
    assert len(rows) == 3 * len(ran) and {r["tenant_id"] for r in rows} == {ACME}


def test_bulk_create_refuses_a_batch_with_a_row_naming_another_tenant(db: DataFlow) -> None:
    data = [*customers(2, "a"), {"name": "x", "email": "x@x", "tenant_id": GLOBEX}]
    assert isinstance(fails(db, "CustomerBulkCreateNode", {"data": data}, tenant=ACME), TenantMismatchError)
    assert everything(db, "Customer") == []


def test_bulk_create_skipping_existing_keys_never_touches_another_tenant(db: DataFlow) -> None:
    before = seed_globex(db, 2)
    ran = 0
    for name in strategy_names(db, "upsert"):
        # The same e-mails as globex's rows: under acme they are new rows, not conflicts.
        params = {"data": customers(2, "g"), "conflict_on": ["tenant_id", "email"]}
        result = forced(db, "CustomerBulkCreateNode", params, name, ACME)
        if result is None:
            continue
        assert result == ({"inserted": 2, "skipped": 0} if ran == 0 else {"inserted": 0, "skipped": 2}), name
        ran += 1
    assert ran and globex_rows(db) == before
    assert run(db, "CustomerCountNode", {}, tenant=ACME) == {"count": 2}


def test_bulk_update_by_ids_of_another_tenant_updates_nothing(db: DataFlow) -> None:
    before = seed_globex(db)
    ran = []
    for name in strategy_names(db, "update"):
        data = [{"id": r["id"], "name": "taken", "score": -1} for r in before]
        result = forced(db, "CustomerBulkUpdateNode", {"data": data}, name, ACME)
        if result is not None:
            assert result == {"updated": 0}, name
            ran.append(name)
    assert ran and globex_rows(db) == before


def test_bulk_update_by_ids_updates_only_the_tenants_own_rows(db: DataFlow) -> None:
    before = seed_globex(db, 2)
    run(db, "CustomerBulkCreateNode", {"data": customers(2, "a")}, tenant=ACME)
    mine = [r for r in everything(db, "Customer") if r["tenant_id"] == ACME]
    for number, name in enumerate(strategy_names(db, "update")):
        data = [{"id": r["id"], "score": number} for r in [*before, *mine]]
        result = forced(db, "CustomerBulkUpdateNode", {"data": data}, name, ACME)
        assert result in (None, {"updated": 2}), name
    assert globex_rows(db) == before


def test_bulk_delete_by_ids_of_another_tenant_deletes_nothing(db: DataFlow) -> None:
    before = seed_globex(db)
    run(db, "InvoiceBulkCreateNode", {"data": [{"number": "G-1"}, {"number": "G-2"}]}, tenant=GLOBEX)
    invoices = everything(db, "Invoice")
    ran = []
    for name in strategy_names(db, "delete"):
        ids = [r["id"] for r in before]
        result = forced(db, "CustomerBulkDeleteNode", {"ids": ids}, name, ACME)
        if result is not None:
            assert result == {"deleted": 0}, name
            soft = forced(db, "InvoiceBulkDeleteNode", {"ids": [r["id"] for r in invoices]}, name, ACME)
            assert soft == {"deleted": 0}, name
            ran.append(name)
    assert ran and globex_rows(db) == before and everything(db, "Invoice") == invoices


def test_bulk_upsert_keys_existing_under_another_tenant_become_the_tenants_own_rows(db: DataFlow) -> None:
    before = seed_globex(db, 2)
    ran: list[str] = []
    for name in strategy_names(db, "upsert"):
        data = [{**row, "score": 50 + len(ran)} for row in customers(2, "g")]
        result = forced(db, "CustomerBulkUpsertNode", {"data": data, "conflict_on": ["tenant_id", "email"]}, name, ACME)
        if result is None:
            continue
        assert result == ({"inserted": 2, "updated": 0} if not ran else {"inserted": 0, "updated": 2}), name
        ran.append(name)
    assert ran and globex_rows(db) == before
    mine = run(db, "CustomerListNode", {"order_by": ["email"]}, tenant=ACME)["records"]
    assert [(r["email"], r["score"]) for r in mine] == [("g0@example.com", 49 + len(ran))] + [
        ("g1@example.com", 49 + len(ran))
    ]


def test_bulk_conflict_targets_without_tenant_id_are_narrowed_to_the_tenant(db: DataFlow) -> None:
    before = seed_globex(db, 2)
    ran: list[str] = []
    for name in strategy_names(db, "upsert"):
        data = [{**row, "score": 70 + len(ran)} for row in customers(2, "g")]
        result = forced(db, "CustomerBulkUpsertNode", {"data": data, "conflict_on": ["email"]}, name, ACME)
        if result is None:
            continue
        assert result == ({"inserted": 2, "updated": 0} if not ran else {"inserted": 0, "updated": 2}), name
        skipped = forced(
            db, "CustomerBulkCreateNode", {"data": customers(2, "g"), "conflict_on": ["email"]}, name, ACME
        )
        assert skipped == {"inserted": 0, "skipped": 2}, name
        ran.append(name)
    assert ran and globex_rows(db) == before
    assert run(db, "CustomerCountNode", {}, tenant=ACME) == {"count": 2}


def test_bulk_upsert_by_ids_of_another_tenant_is_refused(db: DataFlow) -> None:
    before = seed_globex(db, 2)
    for name in strategy_names(db, "upsert"):
        data = [{"id": r["id"], "name": "taken", "email": r["email"], "score": -1} for r in before]
        with pytest.raises(WorkflowError) as info:
            forced(db, "CustomerBulkUpsertNode", {"data": data, "conflict_on": ["id"]}, name, ACME)
        assert isinstance(info.value.cause, ValidationError) and info.value.cause.field == "id", name
    assert globex_rows(db) == before
    assert run(db, "CustomerCountNode", {}, tenant=ACME) == {"count": 0}


def test_bulk_upsert_rows_carrying_another_tenants_id_never_touch_its_row(db: DataFlow) -> None:
    before = seed_globex(db, 1)
    data = [{"id": before[0]["id"], "name": "taken", "email": "new@x", "score": -1}]
    for name in strategy_names(db, "upsert"):
        with pytest.raises(WorkflowError) as info:
            forced(db, "CustomerBulkUpsertNode", {"data": data, "conflict_on": ["tenant_id", "email"]}, name, ACME)
        assert isinstance(info.value.cause, ValidationError) and info.value.cause.field == "id", name
        assert globex_rows(db) == before


def test_purge_removes_every_row_of_one_tenant_only(db: DataFlow) -> None:
    before = seed_globex(db, 2)
    run(db, "CustomerBulkCreateNode", {"data": customers(3, "a")}, tenant=ACME)
    run(db, "InvoiceCreateNode", {"number": "A-1"}, tenant=ACME)
    arun(lambda: purge_tenant(db, ACME))
    assert everything(db, "Customer") == before
    assert everything(db, "Invoice") == []
