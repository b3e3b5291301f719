"""dataflow-tenancy: multi-tenancy for DataFlow, with isolation built into every statement.

A model declared with ``__dataflow__ = {"multi_tenant": True}`` is narrowed
to the tenant in context (``runtime.execute(wf, tenant="acme")`` or
``async with db.tenant("acme")``) in every statement its nodes issue.
See ``docs/tenancy.md``.
"""

from .context import TenantScope
from .errors import (
    QuotaExceededError,
    TenancyError,
    TenantMismatchError,
    TenantNotProvisionedError,
    TenantRequiredError,
)
from .events import TenantAdminAccess
from .filter import TenantFilter
from .migrate import backfill
from .provisioning import provision_tenant, provisioned_tenants, purge_tenant
from .quota import RateQuota, RowCountQuota, TenantQuota
from .rls import install_row_level_security, remove_row_level_security, tenant_connection
from .schema import TENANT_FIELD
from .service import Tenancy, add_quota, enable, tenancy

__all__ = [
    "TENANT_FIELD",
    "QuotaExceededError",
    "RateQuota",
    "RowCountQuota",
    "TenancyError",
    "Tenancy",
    "TenantAdminAccess",
    "TenantFilter",
    "TenantMismatchError",
    "TenantNotProvisionedError",
    "TenantQuota",
    "TenantRequiredError",
    "TenantScope",
    "add_quota",
    "backfill",
    "enable",
    "install_row_level_security",
    "provision_tenant",
    "provisioned_tenants",
    "purge_tenant",
    "remove_row_level_security",
    "tenancy",
    "tenant_connection",
]
