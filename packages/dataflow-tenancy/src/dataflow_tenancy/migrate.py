"""Making a single-tenant model multi-tenant: the tenant its existing rows belong to.

Marking a model ``"multi_tenant": True`` adds ``tenant_id`` (NOT NULL, no
default) and widens its unique groups; the core's migration adds the column
to the live table, and needs a value for the rows already there::

    with dataflow_tenancy.backfill("acme"):
        db.migrate()

Outside such a block the column has no default, so a migration that would
invent a tenant for existing rows fails instead (``TenantRequiredError``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .context import check_tenant
from .schema import backfill_tenant


@contextmanager
def backfill(tenant: str) -> Iterator[str]:
    """Within the block, a migration that adds ``tenant_id`` to existing rows sets it to ``tenant``."""
    token = backfill_tenant.set(check_tenant(tenant))
    try:
        yield tenant
    finally:
        backfill_tenant.reset(token)
