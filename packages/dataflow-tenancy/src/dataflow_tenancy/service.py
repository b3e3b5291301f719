"""The per-instance tenancy service, kept in ``db.extensions``: ``Tenancy.of(db)``, with the shortcuts
``db.tenancy``, ``db.tenant(...)`` and ``db.tenant_admin(...)``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from dataflow.errors import ConfigError
from dataflow.events import emit
from dataflow.schema import ModelSchema

from .context import ScopeBlock, TenantScope, ambient_scope, check_tenant, tenant_scope
from .events import TenantAdminAccess
from .filter import TenantFilter
from .namespaces import DEFAULT_NAMESPACE_PREFIX, check_prefix
from .quota import TenantQuota
from .schema import OPTION, ROW, SCHEMA, TenantSchemaExtension, normalize
from .sessions import SessionSetup

if TYPE_CHECKING:
    from dataflow import DataFlow


class Tenancy:
    """What dataflow-tenancy keeps for one ``DataFlow``: its filter, default strategy, quotas and sessions."""

    def __init__(self, db: DataFlow, tenancy_filter: TenantFilter, extension: TenantSchemaExtension | None) -> None:
        self.db = db
        self.filter = tenancy_filter
        self.extension = extension
        self.default_strategy: str | None = None
        self.quotas: list[TenantQuota] = []
        self.namespace_prefix = DEFAULT_NAMESPACE_PREFIX
        self.sessions: SessionSetup | None = None
        tenancy_filter.service = self
        if extension is not None:
            extension.service = self

    @classmethod
    def of(cls, db: DataFlow) -> Tenancy:
        """``db``'s tenancy service (``db.tenancy``); ``ConfigError`` when dataflow-tenancy is not active on it."""
        return db.extensions.require(
            cls,
            "dataflow-tenancy is not active on it: is the 'tenancy' plugin disabled "
            "(DATAFLOW_PLUGINS / DATAFLOW_DISABLE_PLUGINS)?",
        )

    def __repr__(self) -> str:
        return f"<Tenancy of {self.db.label} default={self.default_strategy!r} quotas={len(self.quotas)}>"

    # -- context ----------------------------------------------------------------

    def tenant(self, tenant: str) -> ScopeBlock:
        """``with``/``async with`` block in which this instance's statements run for ``tenant``."""
        # Checked before the cache, which cannot take an unhashable id.
        return ScopeBlock(self, tenant_scope(check_tenant(tenant)))

    def admin(self, reason: str | None = None) -> ScopeBlock:
        """A block in which statements on row-level models are not narrowed: a deliberate cross-tenant scope.

        Every statement it lets through is reported to the monitors as a
        :class:`~dataflow_tenancy.events.TenantAdminAccess` event (with ``reason``);
        writes must still name their ``tenant_id``.
        """
        return ScopeBlock(self, TenantScope(None, admin=True, reason=reason), on_enter=self._admin_entered)

    def current(self) -> TenantScope | None:
        """The scope of the enclosing ``db.tenant``/``db.tenant_admin`` block, if any."""
        return ambient_scope(self)

    def _admin_entered(self, scope: TenantScope) -> None:
        if self.db.monitors:
            emit(self.db.monitors, TenantAdminAccess(self.db.label, None, "enter", scope.reason))

    # -- writes -----------------------------------------------------------------

    def admit(self, schema: ModelSchema, tenant: str) -> None:
        for quota in self.quotas:
            quota.admit(schema, tenant)

    # -- namespaces and sessions --------------------------------------------------

    def session_setup(self) -> SessionSetup:
        """The per-session statements (search path, RLS setting), installed on first need."""
        if self.sessions is None:
            self.sessions = SessionSetup(self)
        return self.sessions

    def namespaces_used(self) -> None:
        """A schema-per-tenant model was defined: sessions switch to the tenant's namespace from now on."""
        self.session_setup().namespaces = True


def tenancy(db: DataFlow) -> Tenancy:
    """``db``'s tenancy service; ``ConfigError`` when dataflow-tenancy is not active on it (``Tenancy.of(db)``)."""
    return Tenancy.of(db)


def enable(
    db: DataFlow,
    *,
    all_models: bool = False,
    strategy: str = ROW,
    quotas: Iterable[TenantQuota] = (),
    namespace_prefix: str | None = None,
) -> Tenancy:
    """Configure tenancy for a whole instance; call it before defining models.

    ``all_models=True`` makes every model defined afterwards tenant-scoped
    with ``strategy`` (``"row"`` or ``"schema"``) unless its ``__dataflow__``
    says ``"multi_tenant": False``. ``namespace_prefix`` names the schemas
    (PostgreSQL) or databases (MySQL) of tenants: ``<prefix><tenant>``.
    """
    service = tenancy(db)
    if all_models:
        chosen = normalize(strategy, "enable()")
        early = [name for name, schema in db.schemas.items() if OPTION not in schema.options]
        if early:
            raise ConfigError(
                f"enable(all_models=True) must come before the models are defined; already defined: {', '.join(early)}"
            )
        service.default_strategy = chosen
        if chosen == SCHEMA:
            service.namespaces_used()
    if namespace_prefix is not None:
        service.namespace_prefix = check_prefix(namespace_prefix)
    service.quotas.extend(quotas)
    return service


def add_quota(db: DataFlow, quota: TenantQuota) -> None:
    """Consult ``quota`` for every row a tenant writes on ``db`` (see :mod:`dataflow_tenancy.quota`)."""
    tenancy(db).quotas.append(quota)
