"""The tenancy filter: narrows every statement on a tenant-scoped model and fills every row it writes.

The core ANDs :meth:`TenantFilter.scope` into the WHERE clause of every
statement a node builds (Read, List, Count, Update, Delete, the Bulk nodes,
and the conflict checks of upserts and bulk strategies), and passes every
row of Create, BulkCreate, Upsert and BulkUpsert through
:meth:`TenantFilter.fill`. The condition is a filter dict on the schema's
``tenant_id`` field, compiled with its value bound: nothing is rewritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from dataflow.errors import ConfigError, ValidationError
from dataflow.events import emit
from dataflow.schema import ModelSchema

from .context import TenantScope, check_tenant, resolve
from .errors import TenancyError, TenantMismatchError, TenantRequiredError
from .events import TenantAdminAccess
from .schema import ROW, SCHEMA, TENANT_FIELD, strategy

if TYPE_CHECKING:
    from .service import Tenancy

_PROTECTED = frozenset({TENANT_FIELD})


class TenantFilter:
    """Registered through ``dataflow_register_tenancy_filters``, one per ``DataFlow``; fails closed."""

    def __init__(self) -> None:
        self.service: Tenancy | None = None

    def _scope(self, schema: ModelSchema, context: Mapping[str, Any]) -> TenantScope:
        if self.service is None:
            raise ConfigError(f"{schema.name}: dataflow-tenancy is not attached to this DataFlow", model=schema.name)
        scope = resolve(self.service, context, schema.name)
        if strategy(schema) == SCHEMA and context.get("node_tenant") is not None:
            self._check_namespace(schema, context, scope)
        return scope

    def _check_namespace(self, schema: ModelSchema, context: Mapping[str, Any], scope: TenantScope) -> None:
        """A node's ``as_tenant`` cannot move a schema-per-tenant model: the session's namespace is the run's."""
        run_context = {name: value for name, value in context.items() if name != "node_tenant"}
        try:
            outer = resolve(self.service, run_context, schema.name).tenant
        except TenancyError:
            outer = None
        if outer != scope.tenant:
            raise TenantRequiredError(
                f"{schema.name} keeps each tenant in its own schema, which a run chooses when it starts: "
                f"as_tenant={scope.tenant!r} cannot choose it for one node; run the workflow with "
                f"tenant={scope.tenant!r}",
                model=schema.name,
                field=TENANT_FIELD,
            )

    def scope(self, schema: ModelSchema, context: Mapping[str, Any]) -> dict[str, Any] | None:
        """``{"tenant_id": <tenant>}`` for a row-level model; None for the admin scope and unscoped models."""
        kind = strategy(schema)
        if kind is None:
            return None
        scope = self._scope(schema, context)
        if scope.tenant is not None:
            return {TENANT_FIELD: scope.tenant} if kind == ROW else None
        if kind == SCHEMA:
            raise TenantRequiredError(
                f"{schema.name} keeps each tenant in its own schema: the admin scope must name a tenant",
                model=schema.name,
            )
        self._admin_used(schema, scope, "read", None)
        return None

    def fill(self, schema: ModelSchema, row: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        """``row`` with ``tenant_id`` set to the tenant in context; a row naming another tenant is refused."""
        kind = strategy(schema)
        if kind is None:
            return row
        scope = self._scope(schema, context)
        assert self.service is not None
        if kind == SCHEMA:
            if scope.tenant is None:
                raise TenantRequiredError(
                    f"{schema.name} keeps each tenant in its own schema: the admin scope must name a tenant",
                    model=schema.name,
                )
            self.service.admit(schema, scope.tenant)
            return row
        given = row.get(TENANT_FIELD)
        if scope.tenant is None:
            if given is None:
                raise TenantRequiredError(
                    f"{schema.name}: a write in the admin scope must name its tenant_id", model=schema.name
                )
            tenant = check_tenant(given, model=schema.name)
            self._admin_used(schema, scope, "write", tenant)
            self.service.admit(schema, tenant)
            return row
        _refuse_chosen_key(schema, row)
        if given is not None and given != scope.tenant:
            raise TenantMismatchError(
                f"{schema.name}: the row names tenant_id={given!r} but the tenant in context is {scope.tenant!r}",
                model=schema.name,
                field=TENANT_FIELD,
            )
        self.service.admit(schema, scope.tenant)
        row[TENANT_FIELD] = scope.tenant
        return row

    def refuse_raw_sql(self, context: Mapping[str, Any]) -> None:
        """Raw SQL (``SQLNode``, ``db.sql``) cannot be narrowed to a tenant: allow it only where nothing can leak.

        Allowed without tenant-scoped models, in the admin scope, and under a
        tenant when every row-level table has row-level security on (the
        database enforces the tenant). Otherwise ``TenantRequiredError``.
        """
        assert self.service is not None
        scoped = [schema for schema in self.service.db.schemas.values() if strategy(schema) is not None]
        if not scoped:
            return
        scope = self._scope(scoped[0], context)
        if scope.tenant is None:
            self._admin_used(scoped[0], scope, "raw sql", None)
            return
        sessions = self.service.sessions
        if sessions is not None and sessions.rls and all(strategy(schema) == ROW for schema in scoped):
            return
        raise TenantRequiredError(
            f"raw SQL cannot be narrowed to tenant {scope.tenant!r}: DataFlow cannot add the tenant condition to "
            "SQL it did not build. Run it in the admin scope (context={'tenant_admin': '<reason>'}), or install "
            "row-level security (PostgreSQL) so that the database enforces the tenant",
        )

    def fills(self, schema: ModelSchema) -> bool:
        """Only tenant-scoped models have rows to fill or refuse: the core skips the rest of a bulk write's rows."""
        return strategy(schema) is not None

    def protected_fields(self, schema: ModelSchema) -> Iterable[str]:
        """``tenant_id`` of row-level models: no Update, BulkUpdate or upsert may change it."""
        return _PROTECTED if strategy(schema) == ROW else ()

    def conflict_fields(self, schema: ModelSchema) -> Iterable[str]:
        """Fields every upsert conflict target of ``schema`` includes (``tenant_id``).

        The core puts them in front of a caller's business-key ``conflict_on``
        (``Session.conflict_target``), so ``conflict_on=["email"]`` is enough
        on every backend, MySQL included.
        """
        return _PROTECTED if strategy(schema) == ROW else ()

    def _admin_used(self, schema: ModelSchema, scope: TenantScope, action: str, tenant: str | None) -> None:
        assert self.service is not None
        monitors = self.service.db.monitors
        if monitors:
            event = TenantAdminAccess(self.service.db.label, schema.name, action, scope.reason, tenant)
            emit(monitors, event)


def _refuse_chosen_key(schema: ModelSchema, row: Mapping[str, Any]) -> None:
    """Under a tenant, a row-level model's database-chosen key is never given.

    Every tenant's rows share one id space: a write naming an id would answer
    "taken" (a unique violation, a skipped or refused row) for another
    tenant's id and "created" for a free one, while Read says not found for
    both. Refusing every given id answers alike. The admin scope, which sees
    every tenant, may still give ids (restores).
    """
    pk = schema.pk
    if pk.auto_increment and row.get(pk.name) is not None:
        raise ValidationError(
            f"{schema.name}.{pk.name}: ids of a multi-tenant model are chosen by the database (every tenant "
            f"shares one id space, so a given id would tell whether another tenant holds it); leave {pk.name!r} "
            f"out, and change an existing record by id with {schema.name}UpdateNode or {schema.name}BulkUpdateNode",
            model=schema.name,
            field=pk.name,
        )
