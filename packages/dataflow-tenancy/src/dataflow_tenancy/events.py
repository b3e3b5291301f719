"""The monitor event of a cross-tenant (admin) access: ``dataflow.events`` has none of its own."""

from __future__ import annotations

import attrs


@attrs.frozen
class TenantAdminAccess:
    """A statement on a tenant-scoped model ran under the admin scope, unnarrowed.

    Emitted to the instance's monitors once per statement that used the admin
    scope (``action`` is ``"read"`` for any statement the tenant would have
    narrowed, ``"write"`` for a row written, ``"purge"`` for a tenant's
    removal, ``"enter"`` when a ``db.tenant_admin()`` block begins), so that
    every cross-tenant access shows in the events.
    """

    database: str
    model: str | None
    """The model, or None for ``"enter"``: a ``db.tenant_admin()`` block began."""
    action: str
    reason: str | None
    tenant: str | None = None
    """The tenant an admin write named, when it named one."""
