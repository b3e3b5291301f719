"""Statements a run's session needs before its first node and after its last one.

Schema per tenant switches the PostgreSQL ``search_path`` (MySQL: ``USE``) to
the tenant's namespace; PostgreSQL row-level security sets the
``dataflow.tenant`` setting its policies read. Both are undone before the
connection goes back to the pool, so that nothing leaks to its next user; a
connection that cannot be reset is discarded.

The core has no hook for this yet, so :class:`SessionSetup` wraps the
instance's ``open_session``/``close_session`` (the two calls the runtime
makes per run and database). It is installed only when a schema-per-tenant
model is defined or row-level security is switched on; the core hook it
stands in for is described in ``docs/tenancy.md``.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dataflow.errors import DataFlowError
from dataflow.session import Session

from .context import TenantScope, resolve
from .errors import TenancyError, TenantNotProvisionedError
from .namespaces import base_namespace, namespace_name

if TYPE_CHECKING:
    from .service import Tenancy

PG_NAMESPACE = (
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = {0}) THEN set_config('search_path', "
    "quote_ident({0}) || ', ' || (SELECT reset_val FROM pg_settings WHERE name = 'search_path'), false) END"
)
PG_SETTINGS = "set_config('dataflow.tenant', {0}, false), set_config('dataflow.tenant_admin', {1}, false)"
PG_RESET = "RESET search_path; RESET dataflow.tenant; RESET dataflow.tenant_admin"


class SessionSetup:
    """Wraps ``db.open_session``/``db.close_session`` with the tenant's session state."""

    def __init__(self, service: Tenancy) -> None:
        self.service = service
        self.namespaces = False
        """Switch to the tenant's schema (PostgreSQL) or database (MySQL)."""
        self.rls = False
        """Set ``dataflow.tenant``/``dataflow.tenant_admin`` for row-level-security policies (PostgreSQL)."""
        self._changed: weakref.WeakSet[Session] = weakref.WeakSet()
        db = service.db
        self._open = db.open_session
        self._close = db.close_session
        db.open_session = self.open_session  # type: ignore[method-assign]
        db.close_session = self.close_session  # type: ignore[method-assign]

    async def open_session(self, *, run_id: str | None = None, context: Mapping[str, Any] | None = None) -> Session:
        session = await self._open(run_id=run_id, context=context)
        try:
            await self.begin(session)
        except BaseException:
            session.broken = session.broken or session in self._changed
            await self._close(session)
            raise
        return session

    async def close_session(self, session: Session) -> None:
        if session in self._changed:
            self._changed.discard(session)
            try:
                if session.in_transaction and not session.broken:
                    await session.rollback()
                await self.end(session)
            except Exception:  # noqa: BLE001 - a connection whose state is unknown is not reused
                session.broken = True
        await self._close(session)

    def scope_of(self, session: Session) -> TenantScope | None:
        try:
            return resolve(self.service, session.context)
        except TenancyError:
            # A run that touches only models without tenants needs no tenant; the filter
            # refuses any statement on a tenant-scoped model later, where it knows the model.
            return None

    async def begin(self, session: Session) -> None:
        scope = self.scope_of(session)
        tenant = scope.tenant if scope is not None else None
        dialect = session.dialect.name
        if dialect == "postgresql":
            await self._begin_postgres(session, scope, tenant)
        elif dialect == "mysql" and self.namespaces and tenant is not None:
            name = namespace_name(self.service, tenant)
            self._changed.add(session)
            try:
                await session.execute(f"USE {session.dialect.quote(name)}", operation="tenant_session")
            except DataFlowError as error:
                raise _not_provisioned(tenant, name) from error

    async def _begin_postgres(self, session: Session, scope: TenantScope | None, tenant: str | None) -> None:
        placeholder = session.dialect.placeholder
        parts: list[str] = []
        values: list[Any] = []
        name = None
        if self.namespaces and tenant is not None:
            name = namespace_name(self.service, tenant)
            values.append(name)
            parts.append(PG_NAMESPACE.format(placeholder(len(values))).removeprefix("SELECT "))
        if self.rls:
            admin = "on" if scope is not None and scope.admin else ""
            values += [tenant or "", admin]
            parts.append(PG_SETTINGS.format(placeholder(len(values) - 1), placeholder(len(values))))
        if not parts:
            return
        self._changed.add(session)
        rows = await session.fetch("SELECT " + ", ".join(parts), values, operation="tenant_session")
        if name is not None and rows[0][0] is None:
            assert tenant is not None
            raise _not_provisioned(tenant, name)

    async def end(self, session: Session) -> None:
        dialect = session.dialect.name
        if dialect == "postgresql":
            await session.execute(PG_RESET, operation="tenant_session")
        elif dialect == "mysql":
            base = base_namespace(session.db)
            await session.execute(f"USE {session.dialect.quote(base)}", operation="tenant_session")


def _not_provisioned(tenant: str, name: str) -> TenantNotProvisionedError:
    return TenantNotProvisionedError(
        f"tenant {tenant!r} has no namespace {name!r}: create it with dataflow_tenancy.provision_tenant(db, {tenant!r})"
    )
