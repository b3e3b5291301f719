"""Per-tenant quotas: the protocol, a row-count quota, a rate quota, and a plugin that adds one."""

from __future__ import annotations

from pathlib import Path

import pytest
from tenancy_helpers import arun, customers, define_models, everything, fails, open_db, run

from dataflow import DataFlow, hookimpl
from dataflow.plugins import plugin_registered
from dataflow.schema import ModelSchema
from dataflow_tenancy import QuotaExceededError, RateQuota, RowCountQuota, add_quota, enable


def test_a_row_count_quota_refuses_writes_over_the_limit(db: DataFlow) -> None:
    run(db, "CustomerBulkCreateNode", {"data": customers(2, "a")}, tenant="acme")
    quota = RowCountQuota(limit=3, models={"Customer"})
    add_quota(db, quota)
    arun(lambda: quota.refresh(db))
    assert quota.count("Customer", "acme") == 2
    run(db, "CustomerCreateNode", {"name": "x", "email": "x@x"}, tenant="acme")
    error = fails(db, "CustomerCreateNode", {"name": "y", "email": "y@x"}, tenant="acme")
    assert isinstance(error, QuotaExceededError) and error.tenant == "acme"
    assert run(db, "CustomerCountNode", {}, tenant="acme") == {"count": 3}
    # Another tenant, and another model, are not held to acme's count.
    run(db, "CustomerBulkCreateNode", {"data": customers(3, "g")}, tenant="globex")
    run(db, "InvoiceBulkCreateNode", {"data": [{"number": str(i)} for i in range(5)]}, tenant="acme")


def test_a_refused_bulk_write_writes_nothing(sqlite_db: DataFlow) -> None:
    add_quota(sqlite_db, RowCountQuota(limit=3))
    error = fails(sqlite_db, "CustomerBulkCreateNode", {"data": customers(5)}, tenant="acme")
    assert isinstance(error, QuotaExceededError)
    error = fails(sqlite_db, "CustomerBulkUpsertNode", {"data": customers(5)}, tenant="acme")
    assert isinstance(error, QuotaExceededError)
    assert everything(sqlite_db, "Customer") == []


def test_per_tenant_limits_override_the_default(sqlite_db: DataFlow) -> None:
    enable(sqlite_db, quotas=[RowCountQuota(limit=1, limits={"bigco": 3})])
    run(sqlite_db, "CustomerBulkCreateNode", {"data": customers(3)}, tenant="bigco")
    error = fails(sqlite_db, "CustomerBulkCreateNode", {"data": customers(2)}, tenant="acme")
    assert isinstance(error, QuotaExceededError)


def test_refresh_forgets_deleted_rows(sqlite_db: DataFlow) -> None:
    quota = RowCountQuota(limit=2)
    add_quota(sqlite_db, quota)
    run(sqlite_db, "CustomerBulkCreateNode", {"data": customers(2)}, tenant="acme")
    run(sqlite_db, "CustomerBulkDeleteNode", {"filter": {}, "confirmed": True}, tenant="acme")
    # The quota has not seen the deletes yet: it refuses early, never late.
    error = fails(sqlite_db, "CustomerCreateNode", {"name": "x", "email": "x"}, tenant="acme")
    assert isinstance(error, QuotaExceededError)
    arun(lambda: quota.refresh(sqlite_db))
    run(sqlite_db, "CustomerCreateNode", {"name": "x", "email": "x"}, tenant="acme")


def test_a_rate_quota_refuses_bursts(sqlite_db: DataFlow) -> None:
    add_quota(sqlite_db, RateQuota(rate=0.001, burst=2))
    run(sqlite_db, "CustomerCreateNode", {"name": "a", "email": "a"}, tenant="acme")
    run(sqlite_db, "CustomerCreateNode", {"name": "b", "email": "b"}, tenant="acme")
    error = fails(sqlite_db, "CustomerCreateNode", {"name": "c", "email": "c"}, tenant="acme")
    assert isinstance(error, QuotaExceededError) and "rows/s" in error.message
    run(sqlite_db, "CustomerCreateNode", {"name": "c", "email": "c"}, tenant="globex")


class ReadOnlyTenants:
    """A quota a plugin might ship: some tenants may not write at all."""

    def __init__(self, frozen: set[str]) -> None:
        self.frozen = frozen

    def admit(self, schema: ModelSchema, tenant: str) -> None:
        if tenant in self.frozen:
            raise QuotaExceededError(f"tenant {tenant!r} is read-only", model=schema.name, tenant=tenant)


class QuotaPlugin:
    # trylast: it builds on the Tenancy that dataflow-tenancy's own dataflow_instance_created sets up
    # (pluggy calls a plugin registered later first otherwise).
    @hookimpl(trylast=True)
    def dataflow_instance_created(self, db: DataFlow) -> None:
        add_quota(db, ReadOnlyTenants({"suspended"}))


def test_a_plugin_adds_a_quota_to_every_new_instance(tmp_path: Path) -> None:
    with plugin_registered(QuotaPlugin(), "tenancy-test-quota"):
        db = open_db(f"sqlite:///{tmp_path}/quota.db")
    try:
        define_models(db)
        run(db, "CustomerCreateNode", {"name": "a", "email": "a"}, tenant="acme")
        error = fails(db, "CustomerCreateNode", {"name": "a", "email": "a"}, tenant="suspended")
        assert isinstance(error, QuotaExceededError) and "read-only" in error.message
        assert run(db, "CustomerCountNode", {}, tenant="suspended") == {"count": 0}
    finally:
        db.close()


def test_quota_errors_name_the_model_and_tenant() -> None:
    error = QuotaExceededError("over", model="Customer", tenant="acme")
    assert (error.model, error.field, error.tenant) == ("Customer", "tenant_id", "acme")
    with pytest.raises(QuotaExceededError):
        raise error
