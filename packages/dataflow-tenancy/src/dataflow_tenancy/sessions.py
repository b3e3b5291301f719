"""Statements a run's session needs before its first node and after its last one.

Schema per tenant switches the PostgreSQL ``search_path`` (MySQL: ``USE``) to
the tenant's namespace; PostgreSQL row-level security sets the
``dataflow.tenant`` setting its policies read. Both are undone before the
connection goes back to the pool, so that nothing leaks to its next user; a
connection that cannot be reset is discarded.

Behind PgBouncer in transaction mode (the dialect's ``session_settings`` is
off) a session setting would stay on whichever server session it landed on.
Row-level security then sets ``dataflow.tenant`` per transaction instead
(``set_config(..., true)`` as the session's ``transaction_setup``: every
transaction of the run opens with it, and a statement outside one gets a
transaction of its own), and nothing needs resetting. Schema per tenant
still refuses: its search path is checked and switched per session.

:class:`TenantSessionHook` is registered through the core's
``dataflow_register_session_hooks``; it does nothing until the instance's
:class:`SessionSetup` is switched on (a schema-per-tenant model is defined,
or row-level security is installed).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from dataflow.errors import ConfigError, DataFlowError
from dataflow.session import Session

from .context import TenantScope, resolve
from .errors import TenancyError, TenantNotProvisionedError
from .namespaces import base_namespace, namespace_name
from .schema import SCHEMA, strategy

if TYPE_CHECKING:
    from dataflow import DataFlow

    from .service import Tenancy

PG_MISSING = (
    "SELECT t FROM unnest(CAST({1} AS text[])) AS t "
    "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = {0} AND tablename = t)"
)
"""The tables of schema-per-tenant models that the tenant's schema lacks."""
PG_NAMESPACE = (
    "EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = {0}), ARRAY(" + PG_MISSING + "), "
    "CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = {0}) "
    "AND NOT EXISTS (" + PG_MISSING + ") THEN set_config('search_path', quote_ident({0}) || ', ' || "
    "(SELECT reset_val FROM pg_catalog.pg_settings WHERE name = 'search_path'), false) END"
)
"""Whether the tenant's schema exists, the tables it lacks, and (only when it lacks none) the switched path.

The path puts the base schema after the tenant's, so that shared models stay
visible; a table missing from the tenant's schema would then resolve to the
base schema's (the core creates one for every model), and PostgreSQL would
keep a statement prepared that way bound to it even after the table is
provisioned. So the path is switched only when every schema-per-tenant
table is in the tenant's schema, in the same round trip.
"""
PG_SETTINGS = "set_config('dataflow.tenant', {0}, false), set_config('dataflow.tenant_admin', {1}, false)"
PG_LOCAL_SETTINGS = "SELECT set_config('dataflow.tenant', {0}, true), set_config('dataflow.tenant_admin', {1}, true)"
"""The same settings for one transaction only: behind PgBouncer in transaction mode each transaction opens so."""
PG_RESET = "RESET search_path; RESET dataflow.tenant; RESET dataflow.tenant_admin"


class TenantSessionHook:
    """The core's session hook of one instance, handing each session to its :class:`SessionSetup`.

    ``service`` is set when the instance's :class:`Tenancy` is created, as the
    filter's and the schema extension's are.
    """

    def __init__(self) -> None:
        self.service: Tenancy | None = None

    async def session_opened(self, session: Session) -> None:
        setup = self._setup()
        if setup is not None:
            await setup.begin(session)

    async def session_closing(self, session: Session) -> None:
        setup = self._setup()
        if setup is not None and session in setup.changed:
            setup.changed.discard(session)
            await setup.end(session)

    def _setup(self) -> SessionSetup | None:
        return self.service.sessions if self.service is not None else None


class SessionSetup:
    """The tenant's session state for one instance: namespaces and/or row-level-security settings."""

    def __init__(self, service: Tenancy) -> None:
        self.service = service
        self.namespaces = False
        """Switch to the tenant's schema (PostgreSQL) or database (MySQL)."""
        self.rls = False
        """Set ``dataflow.tenant``/``dataflow.tenant_admin`` for row-level-security policies (PostgreSQL)."""
        self.changed: weakref.WeakSet[Session] = weakref.WeakSet()
        """Sessions whose state ``begin`` changed, which ``end`` must reset."""

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
            name = namespace_name(self.service.db, self.service.namespace_prefix, tenant)
            self.changed.add(session)
            try:
                await session.execute(f"USE {session.dialect.quote(name)}", operation="tenant_session")
            except DataFlowError as error:
                raise _not_provisioned(tenant, name) from error

    async def _begin_postgres(self, session: Session, scope: TenantScope | None, tenant: str | None) -> None:
        placeholder = session.dialect.placeholder
        if not session.db.dialect.capabilities.session_settings:
            self._per_transaction(session, scope, tenant)
            return
        parts: list[str] = []
        values: list[Any] = []
        name = None
        if self.namespaces and tenant is not None:
            name = namespace_name(self.service.db, self.service.namespace_prefix, tenant)
            values += [name, namespaced_tables(self.service.db)]
            parts.append(PG_NAMESPACE.format(placeholder(1), placeholder(2)))
        if self.rls:
            admin = "on" if scope is not None and scope.admin else ""
            values += [tenant or "", admin]
            parts.append(PG_SETTINGS.format(placeholder(len(values) - 1), placeholder(len(values))))
        if not parts:
            return
        require_session_settings(session.db, "a tenant's session")
        self.changed.add(session)
        rows = await session.fetch("SELECT " + ", ".join(parts), values, operation="tenant_session")
        if name is not None:
            assert tenant is not None
            exists, missing, switched = rows[0][0], rows[0][1], rows[0][2]
            if not exists:
                raise _not_provisioned(tenant, name)
            if switched is None:
                raise _not_provisioned(tenant, name, sorted(missing))

    def _per_transaction(self, session: Session, scope: TenantScope | None, tenant: str | None) -> None:
        """Behind a transaction pooler: the row-level-security settings open each transaction; no session state."""
        if self.namespaces and tenant is not None:
            require_session_settings(session.db, "a schema-per-tenant session")
        if self.rls:
            placeholder = session.dialect.placeholder
            admin = "on" if scope is not None and scope.admin else ""
            setup = PG_LOCAL_SETTINGS.format(placeholder(1), placeholder(2))
            session.transaction_setup = (setup, [tenant or "", admin])

    async def end(self, session: Session) -> None:
        dialect = session.dialect.name
        if dialect == "postgresql":
            await session.execute(PG_RESET, operation="tenant_session")
        elif dialect == "mysql":
            base = base_namespace(session.db)
            await session.execute(f"USE {session.dialect.quote(base)}", operation="tenant_session")


def require_session_settings(db: DataFlow, what: str) -> None:
    """Refuse ``what`` when ``db``'s connections keep no session settings (PgBouncer in transaction mode).

    A search path set on a session would then apply to whatever server
    session the next statement lands on, perhaps another client's: tenants
    could cross. Schema-per-tenant tenancy fails closed instead.
    """
    if not db.dialect.capabilities.session_settings:
        raise ConfigError(
            f"{db.label}: {what} needs a search path per session, which PgBouncer in transaction mode "
            "(pgbouncer=true) does not keep between transactions; use session pooling (or a direct connection) "
            "for schema-per-tenant tenancy (row-level security works: its setting is made in each transaction)",
            field="pgbouncer",
        )


def namespaced_tables(db: DataFlow) -> list[str]:
    """The tables of ``db``'s schema-per-tenant models, which every tenant's namespace must hold."""
    return [schema.table for schema in db.schemas.values() if strategy(schema) == SCHEMA]


def _not_provisioned(tenant: str, name: str, missing: list[str] | None = None) -> TenantNotProvisionedError:
    fix = f"dataflow_tenancy.provision_tenant(db, {tenant!r})"
    if missing:
        return TenantNotProvisionedError(
            f"tenant {tenant!r}: namespace {name!r} has no table {', '.join(map(repr, missing))} (a model added "
            f"since it was provisioned): run {fix} again",
            field="tenant_id",
        )
    return TenantNotProvisionedError(
        f"tenant {tenant!r} has no namespace {name!r}: create it with {fix}", field="tenant_id"
    )
