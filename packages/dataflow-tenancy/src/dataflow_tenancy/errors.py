"""The errors of dataflow-tenancy: raised before any SQL runs, so a refused statement writes nothing."""

from __future__ import annotations

from dataflow.errors import ValidationError


class TenancyError(ValidationError):
    """Base of the tenancy errors: a statement was refused to keep tenants apart."""


class TenantRequiredError(TenancyError):
    """A statement on a tenant-scoped model ran without a tenant in context (tenancy fails closed).

    Fix: run it with ``runtime.execute(wf, tenant="acme")``, inside ``db.tenant("acme")``,
    or, for a deliberate cross-tenant operation, inside ``db.tenant_admin(reason=...)``.
    """


class TenantMismatchError(TenancyError):
    """A row or a run names a tenant other than the one in context."""


class TenantNotProvisionedError(TenancyError):
    """Schema or database per tenant: the tenant's namespace does not exist (``provision_tenant`` first)."""


class QuotaExceededError(TenancyError):
    """A tenant quota refused a write."""

    def __init__(self, message: str, *, model: str | None = None, tenant: str | None = None) -> None:
        super().__init__(message, model=model, field="tenant_id")
        self.tenant = tenant
