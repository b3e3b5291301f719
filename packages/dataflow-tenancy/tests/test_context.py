"""The tenant in context: where it comes from, what happens without one, and the admin scope."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tenancy_helpers import arun, define_models, everything, fails, open_db, run

from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder, hookimpl
from dataflow.plugins import plugin_registered
from dataflow_tenancy import Tenancy, TenantAdminAccess, TenantMismatchError, TenantRequiredError, TenantScope

NODE_INPUTS: dict[str, dict[str, Any]] = {
    "Create": {"name": "x", "email": "x@example.com"},
    "Read": {"id": 1},
    "Update": {"id": 1, "fields": {"name": "y"}},
    "Delete": {"id": 1},
    "List": {},
    "Count": {},
    "Upsert": {"name": "x", "email": "x@example.com", "conflict_on": ["tenant_id", "email"]},
    "BulkCreate": {"data": [{"name": "x", "email": "x@example.com"}]},
    "BulkUpdate": {"data": [{"id": 1, "name": "y"}]},
    "BulkDelete": {"ids": [1]},
    "BulkUpsert": {"data": [{"name": "x", "email": "x@example.com"}], "conflict_on": ["tenant_id", "email"]},
}


@pytest.mark.parametrize("operation", sorted(NODE_INPUTS))
def test_every_node_fails_closed_without_a_tenant(sqlite_db: DataFlow, operation: str) -> None:
    run(sqlite_db, "CustomerCreateNode", {"name": "a", "email": "a@example.com"}, tenant="acme")
    error = fails(sqlite_db, f"Customer{operation}Node", NODE_INPUTS[operation])
    assert isinstance(error, TenantRequiredError)
    assert error.model == "Customer"
    assert [(r["name"], r["tenant_id"]) for r in everything(sqlite_db, "Customer")] == [("a", "acme")]


def test_the_run_argument_sets_the_tenant(sqlite_db: DataFlow) -> None:
    record = run(sqlite_db, "CustomerCreateNode", {"name": "a", "email": "a@example.com"}, tenant="acme")
    assert record["tenant_id"] == "acme"


def test_a_sync_block_sets_the_tenant(sqlite_db: DataFlow) -> None:
    with Tenancy.of(sqlite_db).tenant("acme") as scope:
        assert scope == TenantScope("acme")
        assert run(sqlite_db, "CustomerCreateNode", {"name": "a", "email": "a@example.com"})["tenant_id"] == "acme"
        assert Tenancy.of(sqlite_db).current() == TenantScope("acme")
    assert Tenancy.of(sqlite_db).current() is None
    assert isinstance(fails(sqlite_db, "CustomerCountNode"), TenantRequiredError)


def test_an_async_block_sets_the_tenant(sqlite_db: DataFlow) -> None:
    async def create() -> Any:
        workflow = WorkflowBuilder()
        workflow.add_node(sqlite_db.nodes["CustomerCreateNode"], "c", {"name": "a", "email": "a@example.com"})
        async with Tenancy.of(sqlite_db).tenant("globex"):
            results, _ = await AsyncLocalRuntime().execute_async(workflow)
        return results["c"]

    assert arun(create)["tenant_id"] == "globex"


def test_blocks_nest_and_the_innermost_wins(sqlite_db: DataFlow) -> None:
    with Tenancy.of(sqlite_db).tenant("acme"):
        with Tenancy.of(sqlite_db).tenant("globex"):
            run(sqlite_db, "CustomerCreateNode", {"name": "g", "email": "g@example.com"})
        run(sqlite_db, "CustomerCreateNode", {"name": "a", "email": "a@example.com"})
    assert [(r["name"], r["tenant_id"]) for r in everything(sqlite_db, "Customer")] == [
        ("g", "globex"),
        ("a", "acme"),
    ]


def test_a_run_tenant_that_contradicts_the_block_is_refused(sqlite_db: DataFlow) -> None:
    with Tenancy.of(sqlite_db).tenant("acme"):
        error = fails(sqlite_db, "CustomerCreateNode", {"name": "a", "email": "a@example.com"}, tenant="globex")
        assert isinstance(error, TenantMismatchError)
        assert run(sqlite_db, "CustomerCountNode", {}, tenant="acme") == {"count": 0}


@pytest.mark.parametrize("tenant", ["", " acme", "x" * 65, "a\nb", 7])
def test_invalid_tenant_ids_are_refused(sqlite_db: DataFlow, tenant: Any) -> None:
    assert isinstance(fails(sqlite_db, "CustomerCountNode", {}, tenant=tenant), TenantMismatchError)
    with pytest.raises(TenantMismatchError):
        Tenancy.of(sqlite_db).tenant(tenant)


def test_concurrent_tasks_each_keep_their_own_block(sqlite_db: DataFlow) -> None:
    async def one(tenant: str, delay: float) -> list[str]:
        async with Tenancy.of(sqlite_db).tenant(tenant):
            await asyncio.sleep(delay)
            workflow = WorkflowBuilder()
            workflow.add_node(sqlite_db.nodes["CustomerCreateNode"], "c", {"name": tenant, "email": f"{tenant}@x"})
            workflow.add_node(sqlite_db.nodes["CustomerListNode"], "l", {})
            workflow.add_connection("c", "id", "l", "filter.id")
            results, _ = await AsyncLocalRuntime().execute_async(workflow)
            return [r["tenant_id"] for r in results["l"]["records"]]

    async def both() -> list[list[str]]:
        return list(await asyncio.gather(one("acme", 0.02), one("globex", 0.0)))

    assert arun(both) == [["acme"], ["globex"]]


# -- the admin scope --------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def handle(self, event: Any) -> None:
        if isinstance(event, TenantAdminAccess):
            self.events.append(event)


class RecorderPlugin:
    def __init__(self) -> None:
        self.recorder = Recorder()

    @hookimpl
    def dataflow_register_monitors(self, register: Any) -> None:
        register(self.recorder)


@pytest.fixture
def monitored(tmp_path: Any) -> Any:
    plugin = RecorderPlugin()
    with plugin_registered(plugin, "tenancy-test-recorder"):
        instance = open_db(f"sqlite:///{tmp_path}/admin.db")
    define_models(instance)
    yield instance, plugin.recorder
    instance.close()


def test_the_admin_scope_reads_every_tenant_and_is_reported(monitored: Any) -> None:
    db, recorder = monitored
    run(db, "CustomerCreateNode", {"name": "a", "email": "a@x"}, tenant="acme")
    run(db, "CustomerCreateNode", {"name": "g", "email": "g@x"}, tenant="globex")
    with db.tenant_admin(reason="support ticket 4711"):
        assert run(db, "CustomerCountNode", {}) == {"count": 2}
    assert [(e.action, e.model, e.reason) for e in recorder.events] == [
        ("enter", None, "support ticket 4711"),
        ("read", "Customer", "support ticket 4711"),
    ]


def test_the_admin_scope_can_be_a_run_context(monitored: Any) -> None:
    db, recorder = monitored
    run(db, "CustomerCreateNode", {"name": "a", "email": "a@x"}, tenant="acme")
    assert run(db, "CustomerCountNode", {}, context={"tenant_admin": "nightly report"}) == {"count": 1}
    assert [(e.action, e.reason) for e in recorder.events] == [("read", "nightly report")]


def test_admin_writes_must_name_their_tenant(monitored: Any) -> None:
    db, recorder = monitored
    with db.tenant_admin(reason="import"):
        assert isinstance(fails(db, "CustomerCreateNode", {"name": "a", "email": "a@x"}), TenantRequiredError)
        record = run(db, "CustomerCreateNode", {"name": "a", "email": "a@x", "tenant_id": "initech"})
    assert record["tenant_id"] == "initech"
    assert ("write", "initech") in [(e.action, e.tenant) for e in recorder.events]


def test_a_tenant_block_inside_the_admin_scope_narrows_again(monitored: Any) -> None:
    db, _ = monitored
    run(db, "CustomerCreateNode", {"name": "a", "email": "a@x"}, tenant="acme")
    run(db, "CustomerCreateNode", {"name": "g", "email": "g@x"}, tenant="globex")
    with db.tenant_admin(reason="support"), db.tenant("acme"):
        assert run(db, "CustomerCountNode", {}) == {"count": 1}


def test_a_false_admin_flag_is_no_admin_scope(sqlite_db: DataFlow) -> None:
    error = fails(sqlite_db, "CustomerCountNode", {}, context={"tenant_admin": False})
    assert isinstance(error, TenantRequiredError)
    error = fails(sqlite_db, "CustomerCountNode", {}, context={"tenant_admin": 1})
    assert isinstance(error, TenantRequiredError)


def test_a_sync_run_inside_a_running_loop_sees_the_block(sqlite_db: DataFlow) -> None:
    async def inside_a_loop() -> Any:
        with Tenancy.of(sqlite_db).tenant("acme"):
            return run(sqlite_db, "CustomerCreateNode", {"name": "a", "email": "a@x"})

    assert arun(inside_a_loop)["tenant_id"] == "acme"


# -- a tenant named by one node (the hook an admin-tool node parameter would use) ----------


def test_a_node_tenant_narrows_an_admin_or_tenantless_context(sqlite_db: DataFlow) -> None:
    schema = sqlite_db.schema("Customer")
    tenancy_filter = Tenancy.of(sqlite_db).filter
    assert tenancy_filter.scope(schema, {"node_tenant": "acme"}) == {"tenant_id": "acme"}
    assert tenancy_filter.scope(schema, {"node_tenant": "acme", "tenant_admin": True}) == {"tenant_id": "acme"}
    assert tenancy_filter.scope(schema, {"node_tenant": "acme", "tenant": "acme"}) == {"tenant_id": "acme"}
    with pytest.raises(TenantMismatchError):
        tenancy_filter.scope(schema, {"node_tenant": "acme", "tenant": "globex"})
    with Tenancy.of(sqlite_db).tenant("globex"), pytest.raises(TenantMismatchError):
        tenancy_filter.scope(schema, {"node_tenant": "acme"})
    assert tenancy_filter.scope(sqlite_db.schema("Note"), {}) is None
