"""Names of tenants' namespaces: the schema (PostgreSQL) or database (MySQL) a tenant's rows live in.

Namespace names come from tenant ids, so those tenants' ids are held to
lower-case letters, digits and ``_``; the dialect quotes the name. This
module sits below the service, the sessions and provisioning, and imports
none of them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from dataflow.errors import ConfigError

from .context import check_tenant

if TYPE_CHECKING:
    from dataflow import DataFlow

DEFAULT_NAMESPACE_PREFIX = "tenant_"
_NAMESPACE_TENANT = re.compile(r"^[a-z0-9_]+$")
_PREFIX = re.compile(r"^[a-z_][a-z0-9_]*$")


def check_prefix(prefix: str) -> str:
    """``prefix`` if it can start a namespace name (lower-case letters, digits, ``_``; no leading digit)."""
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise ConfigError(
            f"namespace_prefix {prefix!r} must be lower-case letters, digits and '_', not starting with a digit",
            field="namespace_prefix",
        )
    return prefix


def namespace_name(db: DataFlow, prefix: str, tenant: str) -> str:
    """``<prefix><tenant>``, the schema (PostgreSQL) or database (MySQL) of ``tenant`` on ``db``."""
    check_tenant(tenant)
    name = prefix + tenant
    limit = db.dialect.capabilities.max_identifier_length
    if not _NAMESPACE_TENANT.match(tenant) or len(name.encode()) > limit:
        raise ConfigError(
            f"tenant id {tenant!r} cannot name a schema: with a schema per tenant, tenant ids are lower-case "
            f"letters, digits and '_', and '{prefix}<tenant>' fits in {limit} bytes",
            field="tenant_id",
        )
    return name


def base_namespace(db: DataFlow) -> str:
    """The database of ``db``'s URL (MySQL), where sessions return after a tenant's run."""
    if not db.url.database:
        raise ConfigError(f"{db.label}: a database per tenant needs a database in the URL to return to")
    return db.url.database
