"""Schema per tenant on PostgreSQL, database per tenant on MySQL/MariaDB: provisioning, isolation, purge."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from tenancy_helpers import arun, fails, open_db, run

from dataflow import ConfigError, DataFlow, DataFlowError, MaxLength
from dataflow_tenancy import (
    Tenancy,
    TenantNotProvisionedError,
    TenantRequiredError,
    enable,
    provision_tenant,
    provisioned_tenants,
    purge_tenant,
    tenancy,
)


def define(db: DataFlow) -> None:
    @db.model
    class Document:
        title: Annotated[str, MaxLength(100)]
        __dataflow__ = {"multi_tenant": "schema", "unique": [("title",)]}

    @db.model
    class Plan:
        name: Annotated[str, MaxLength(50)]


@pytest.fixture
def db(server_database_url: str) -> Iterator[DataFlow]:
    instance = open_db(server_database_url, pool_size=1)
    enable(instance, namespace_prefix=f"tn{secrets.token_hex(3)}_")
    define(instance)
    yield instance
    try:
        for tenant in arun(lambda: provisioned_tenants(instance)):
            arun(lambda tenant=tenant: purge_tenant(instance, tenant))  # type: ignore[misc]
    finally:
        instance.close()


def provision(db: DataFlow, *tenants: str) -> None:
    for tenant in tenants:
        arun(lambda tenant=tenant: provision_tenant(db, tenant))  # type: ignore[misc]


def current_namespace(db: DataFlow) -> str:
    """The schema (PostgreSQL) or database (MySQL) a pooled connection is on, outside any run."""
    sql = "SELECT current_schema()" if db.dialect.name == "postgresql" else "SELECT DATABASE()"

    async def read() -> str:
        pool = await db.pool()
        connection = await pool.acquire()
        try:
            return str((await connection.fetch(sql))[0][0])
        finally:
            await pool.release(connection)

    return arun(read)


def test_each_tenant_has_its_own_table(db: DataFlow) -> None:
    base = current_namespace(db)
    provision(db, "acme", "globex")
    assert arun(lambda: provisioned_tenants(db)) == ["acme", "globex"]
    a = run(db, "DocumentCreateNode", {"title": "plan"}, tenant="acme")
    g = run(db, "DocumentCreateNode", {"title": "plan"}, tenant="globex")
    run(db, "DocumentCreateNode", {"title": "memo"}, tenant="globex")
    assert a["id"] == g["id"] == 1  # separate tables, separate sequences
    assert run(db, "DocumentCountNode", {}, tenant="acme") == {"count": 1}
    assert run(db, "DocumentCountNode", {}, tenant="globex") == {"count": 2}
    with Tenancy.of(db).tenant("acme"):
        assert run(db, "DocumentReadNode", {"id": 1})["title"] == "plan"
        assert run(db, "DocumentReadNode", {"id": 2, "raise_on_not_found": False}) is None
        assert run(db, "DocumentBulkDeleteNode", {"ids": [1, 2]}) == {"deleted": 1}
    assert run(db, "DocumentCountNode", {}, tenant="globex") == {"count": 2}
    # The one pooled connection went back to the base namespace after every run.
    assert current_namespace(db) == base


def test_a_tenant_without_a_namespace_is_refused(db: DataFlow) -> None:
    provision(db, "acme")
    error = fails(db, "DocumentCreateNode", {"title": "x"}, tenant="initech")
    assert isinstance(error, TenantNotProvisionedError)
    assert run(db, "DocumentCountNode", {}, tenant="acme") == {"count": 0}


def test_no_tenant_and_the_admin_scope_are_refused(db: DataFlow) -> None:
    provision(db, "acme")
    assert isinstance(fails(db, "DocumentListNode", {}), TenantRequiredError)
    assert isinstance(fails(db, "DocumentCreateNode", {"title": "x"}), TenantRequiredError)
    error = fails(db, "DocumentListNode", {}, context={"tenant_admin": "audit"})
    assert isinstance(error, TenantRequiredError)


def test_purge_drops_the_namespace(db: DataFlow) -> None:
    provision(db, "acme", "globex")
    run(db, "DocumentCreateNode", {"title": "x"}, tenant="acme")
    arun(lambda: purge_tenant(db, "acme"))
    assert arun(lambda: provisioned_tenants(db)) == ["globex"]
    assert isinstance(fails(db, "DocumentCountNode", {}, tenant="acme"), TenantNotProvisionedError)
    provision(db, "acme")
    assert run(db, "DocumentCountNode", {}, tenant="acme") == {"count": 0}


def test_provisioning_twice_is_harmless(db: DataFlow) -> None:
    provision(db, "acme")
    run(db, "DocumentCreateNode", {"title": "kept"}, tenant="acme")
    provision(db, "acme")
    assert run(db, "DocumentCountNode", {}, tenant="acme") == {"count": 1}


def test_shared_models_in_tenant_runs(db: DataFlow) -> None:
    provision(db, "acme")
    run(db, "PlanCreateNode", {"name": "gold"})
    if db.dialect.name == "postgresql":
        # The search path is the tenant's schema, then the base one: shared tables stay visible.
        assert run(db, "PlanCountNode", {}, tenant="acme") == {"count": 1}
    else:
        # MySQL has no search path: a tenant's run is on the tenant's database only (documented).
        assert isinstance(fails(db, "PlanCountNode", {}, tenant="acme"), DataFlowError)
    assert run(db, "PlanCountNode", {}) == {"count": 1}


@pytest.mark.parametrize("tenant", ["Acme", "a-b", "a;drop", "x" * 60])
def test_tenant_ids_that_cannot_name_a_namespace_are_refused(db: DataFlow, tenant: Any) -> None:
    with pytest.raises(ConfigError, match="cannot name a schema"):
        arun(lambda: provision_tenant(db, tenant))


def define_report(db: DataFlow) -> None:
    @db.model
    class Report:
        title: Annotated[str, MaxLength(100)]
        __dataflow__ = {"multi_tenant": "schema"}


def table_count(db: DataFlow, namespace: str | None, table: str) -> int:
    """Rows of ``table`` in ``namespace`` (None: the base schema/database), read on a pooled connection."""
    q = db.dialect.quote
    name = q(table) if namespace is None else f"{q(namespace)}.{q(table)}"

    async def count() -> int:
        pool = await db.pool()
        connection = await pool.acquire()
        try:
            return int((await connection.fetch(f"SELECT COUNT(*) FROM {name}"))[0][0])
        finally:
            await pool.release(connection)

    return arun(count)


def test_a_model_added_after_provisioning_never_reaches_the_base_table(db: DataFlow) -> None:
    provision(db, "acme", "globex")
    run(db, "DocumentCountNode", {}, tenant="acme")  # the one pooled connection has served acme
    define_report(db)
    # Neither tenant's namespace has the new table yet: refused, never the base schema's table.
    refused = fails(db, "ReportCreateNode", {"title": "acme secret"}, tenant="acme")
    assert isinstance(refused, TenantNotProvisionedError if db.dialect.name == "postgresql" else DataFlowError)
    assert table_count(db, None, "report") == 0
    provision(db, "acme")
    run(db, "ReportCreateNode", {"title": "acme secret"}, tenant="acme")
    # globex was not provisioned again: still refused, so it cannot list or update acme's rows.
    for node, params in (("ReportListNode", {}), ("ReportUpdateNode", {"id": 1, "fields": {"title": "x"}})):
        error = fails(db, node, params, tenant="globex")
        assert isinstance(error, TenantNotProvisionedError if db.dialect.name == "postgresql" else DataFlowError)
    if db.dialect.name == "postgresql":
        assert "report" in str(error) and "provision_tenant" in str(error)
    acme = f"{tenancy(db).namespace_prefix}acme"
    assert table_count(db, acme, "report") == 1
    assert table_count(db, None, "report") == 0
    provision(db, "globex")
    assert run(db, "ReportListNode", {}, tenant="globex")["records"] == []
    assert [r["title"] for r in run(db, "ReportListNode", {}, tenant="acme")["records"]] == ["acme secret"]


def test_statements_prepared_before_provisioning_do_not_outlive_it(db: DataFlow) -> None:
    """One pooled connection: a tenant refused for a missing table reads its own table once provisioned."""
    provision(db, "acme")
    define_report(db)
    for _ in range(2):
        fails(db, "ReportCountNode", {}, tenant="acme")
    provision(db, "acme")
    run(db, "ReportCreateNode", {"title": "mine"}, tenant="acme")
    assert run(db, "ReportCountNode", {}, tenant="acme") == {"count": 1}
    assert table_count(db, None, "report") == 0
