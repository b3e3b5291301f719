"""``as_tenant``: one node of a run for one tenant (admin tools); it narrows, it never switches tenants."""

from __future__ import annotations

from typing import Any

import pytest
from tenancy_helpers import customers, everything, run

from dataflow import DataFlow, LocalRuntime, WorkflowBuilder, WorkflowError
from dataflow_tenancy import TenantMismatchError

ADMIN = {"tenant_admin": "support tool"}


def seed(db: DataFlow) -> None:
    run(db, "CustomerBulkCreateNode", {"data": customers(2, "a")}, tenant="acme")
    run(db, "CustomerBulkCreateNode", {"data": customers(3, "g")}, tenant="globex")


def rows(db: DataFlow) -> list[tuple[str, str]]:
    return sorted((r["name"], r["tenant_id"]) for r in everything(db, "Customer"))


def test_an_admin_run_gives_each_node_its_tenant(db: DataFlow) -> None:
    seed(db)
    globex_id = next(r["id"] for r in everything(db, "Customer") if r["tenant_id"] == "globex")
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["CustomerListNode"], "acme_list", {"order_by": ["id"], "as_tenant": "acme"})
    workflow.add_node(db.nodes["CustomerCountNode"], "acme_count", {"as_tenant": "acme"})
    workflow.add_node(db.nodes["CustomerCreateNode"], "acme_new", {"name": "an", "email": "n@x", "as_tenant": "acme"})
    workflow.add_node(
        db.nodes["CustomerUpdateNode"],
        "acme_update",
        {"id": globex_id, "fields": {"score": 99}, "raise_on_not_found": False, "as_tenant": "acme"},
    )
    workflow.add_node(db.nodes["CustomerListNode"], "globex_list", {"order_by": ["id"], "as_tenant": "globex"})
    workflow.add_node(
        db.nodes["CustomerBulkCreateNode"],
        "globex_new",
        {"data": [{"name": "gn", "email": "n@x"}], "as_tenant": "globex"},
    )
    # Nodes without it keep the run's (admin) context: one in any turn, one after acme's Create
    # (its output's score, 0, feeds the List's offset only to order the two).
    workflow.add_node(db.nodes["CustomerCountNode"], "all_count", {})
    workflow.add_node(db.nodes["CustomerListNode"], "all_after", {"order_by": ["id"]})
    workflow.add_connection("acme_new", "score", "all_after", "offset")
    results, _ = LocalRuntime().execute(workflow.build(), context=ADMIN)

    assert {r["tenant_id"] for r in results["acme_list"]["records"]} == {"acme"}
    assert len(results["acme_list"]["records"]) == 2
    assert {r["tenant_id"] for r in results["globex_list"]["records"]} == {"globex"}
    assert len(results["globex_list"]["records"]) == 3
    assert results["acme_count"] == {"count": 2}
    assert results["acme_new"]["tenant_id"] == "acme"
    assert results["globex_new"]["inserted"] == 1
    assert all(r["score"] != 99 for r in everything(db, "Customer"))  # acme's node cannot reach globex's row
    assert ("an", "acme") in rows(db) and ("gn", "globex") in rows(db)
    assert results["all_count"]["count"] in (5, 6, 7)  # the admin scope: every tenant, whatever ran first
    after = results["all_after"]["records"]
    assert {r["tenant_id"] for r in after} == {"acme", "globex"} and ("an", "acme") in {
        (r["name"], r["tenant_id"]) for r in after
    }


def test_a_tenant_run_cannot_name_another_tenant(db: DataFlow) -> None:
    seed(db)
    before = rows(db)
    for node, params in (
        ("CustomerCreateNode", {"name": "x", "email": "x@x"}),
        ("CustomerBulkCreateNode", {"data": [{"name": "x", "email": "x@x"}]}),
        ("CustomerListNode", {}),
        ("CustomerBulkDeleteNode", {"filter": {}, "confirmed": True}),
    ):
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes[node], "node", {**params, "as_tenant": "globex"})
        with pytest.raises(WorkflowError) as info:
            LocalRuntime().execute(workflow.build(), tenant="acme", transaction=True)
        assert isinstance(info.value.cause, TenantMismatchError), node
        assert "'globex'" in str(info.value.cause) and "'acme'" in str(info.value.cause)
    assert rows(db) == before


def test_a_failed_node_leaves_the_runs_context(db: DataFlow) -> None:
    seed(db)
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["CustomerCreateNode"], "own", {"name": "o", "email": "o@x", "as_tenant": "acme"})
    workflow.add_node(db.nodes["CustomerCountNode"], "count", {})
    workflow.add_node(db.nodes["CustomerCreateNode"], "other", {"name": "x", "email": "x@x", "as_tenant": "globex"})
    workflow.add_connection("own", "score", "other", "score")
    with pytest.raises(WorkflowError) as info:
        LocalRuntime().execute(workflow.build(), tenant="acme")
    assert info.value.node_id == "other" and isinstance(info.value.cause, TenantMismatchError)
    # The same tenant is allowed (it narrows nothing); the node without it counted acme's rows only.
    assert info.value.results["count"]["count"] in (2, 3)
    assert rows(db) == sorted(
        [*[(f"a{i}", "acme") for i in range(2)], ("o", "acme"), *[(f"g{i}", "globex") for i in range(3)]]
    )


def test_as_tenant_is_harmless_on_a_model_without_tenants(db: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["NoteCreateNode"], "note", {"text": "hello", "as_tenant": "acme"})
    results, _ = LocalRuntime().execute(workflow.build())
    assert results["note"]["text"] == "hello" and "as_tenant" not in results["note"]


def test_an_invalid_tenant_is_refused(sqlite_db: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(sqlite_db.nodes["CustomerCountNode"], "count", {"as_tenant": " acme"})
    with pytest.raises(WorkflowError) as info:
        LocalRuntime().execute(workflow.build(), context=ADMIN)
    assert isinstance(info.value.cause, TenantMismatchError)


def test_the_operation_never_sees_the_parameter(sqlite_db: DataFlow) -> None:
    node_class: Any = sqlite_db.nodes["CustomerCreateNode"]
    assert "as_tenant" in node_class.parameters
    record = run(sqlite_db, "CustomerCreateNode", {"name": "a", "email": "a@x", "as_tenant": "acme"}, context=ADMIN)
    assert record["tenant_id"] == "acme" and "as_tenant" not in record
