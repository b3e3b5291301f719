"""The schema extension: which models are tenant-scoped, and the ``tenant_id`` column of row-level ones.

A model opts in with ``__dataflow__ = {"multi_tenant": True}`` (row level,
the same as ``"row"``) or ``{"multi_tenant": "schema"}`` (a PostgreSQL
schema, or a MySQL database, per tenant); ``dataflow_tenancy.enable(db,
all_models=True)`` makes it the default for every model defined afterwards
(``"multi_tenant": False`` opts one out). The normalized strategy is kept in
``schema.options["multi_tenant"]`` (``"row"`` or ``"schema"``), which the
filter reads.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.errors import ConfigError
from dataflow.fields import FieldKind, FieldSchema
from dataflow.schema import ModelSchema

from .context import MAX_TENANT_LENGTH, check_tenant
from .errors import TenantRequiredError

if TYPE_CHECKING:
    from .service import Tenancy

OPTION = "multi_tenant"
TENANT_FIELD = "tenant_id"
ROW, SCHEMA = "row", "schema"
NAMESPACE_DIALECTS = ("postgresql", "mysql")

BACKFILL_VARIABLE = "DATAFLOW_TENANCY_BACKFILL"
backfill_tenant: ContextVar[str | None] = ContextVar("dataflow_tenancy_backfill", default=None)
"""The tenant that existing rows get when a migration adds ``tenant_id`` (see ``migrate.backfill``)."""


def _no_default() -> str:
    # The filter fills tenant_id before any row is validated: only a migration adding the column to
    # existing rows gets here. Without a backfill tenant it is refused instead of inventing one.
    tenant = backfill_tenant.get() or os.environ.get(BACKFILL_VARIABLE) or None
    if tenant is None:
        raise TenantRequiredError(
            "tenant_id has no default: rows get it from the tenant in context, and a migration that adds "
            f"the column to existing rows needs `with dataflow_tenancy.backfill('<tenant>'):` (or {BACKFILL_VARIABLE} "
            "for the dataflow command)",
            field=TENANT_FIELD,
        )
    return check_tenant(tenant)


TENANT_ID = FieldSchema(
    name=TENANT_FIELD, kind=FieldKind.STR, max_length=MAX_TENANT_LENGTH, default_factory=_no_default
)
"""The column row-level models get: ``VARCHAR(64) NOT NULL``; never required from callers (the filter fills it)."""


def strategy(schema: ModelSchema) -> str | None:
    """``"row"``, ``"schema"``, or None for a model that is not tenant-scoped."""
    value = schema.options.get(OPTION)
    if not value:
        return None
    return SCHEMA if value == SCHEMA else ROW


def normalize(value: Any, model: str) -> str | None:
    if value is None or value is False:
        return None
    if value is True or value == ROW:
        return ROW
    if value == SCHEMA:
        return SCHEMA
    raise ConfigError(
        f"{model}.__dataflow__['multi_tenant'] must be True, False, 'row' or 'schema', got {value!r}", model=model
    )


def with_tenant_column(schema: ModelSchema) -> ModelSchema:
    """``schema`` with ``tenant_id`` (before the managed columns), unique groups led by it, and an index on it."""
    if TENANT_FIELD in schema.by_name:
        raise ConfigError(
            f"{schema.name}.{TENANT_FIELD} is kept by dataflow-tenancy for multi-tenant models; remove the field",
            model=schema.name,
            field=TENANT_FIELD,
        )
    fields = list(schema.fields)
    position = next((i for i, f in enumerate(fields) if f.managed), len(fields))
    fields.insert(position, TENANT_ID)
    unique = tuple(group if TENANT_FIELD in group else (TENANT_FIELD, *group) for group in schema.unique)
    indexes = schema.indexes
    if not any(group[0] == TENANT_FIELD for group in (*unique, *indexes)):
        # A unique group led by tenant_id already serves tenant lookups; a second index on it only
        # gives the planner another candidate to weigh (measurably slower key reads on MariaDB).
        indexes = ((TENANT_FIELD,), *indexes)
    return attrs.evolve(schema, fields=tuple(fields), unique=unique, indexes=indexes)


class TenantSchemaExtension:
    """Registered through ``dataflow_register_schema_extensions``; bound to its instance's service."""

    def __init__(self) -> None:
        self.service: Tenancy | None = None

    def __call__(self, schema: ModelSchema) -> ModelSchema:
        service = self.service
        default = service.default_strategy if service is not None else None
        chosen = normalize(schema.options[OPTION], schema.name) if OPTION in schema.options else default
        if chosen is None:
            return schema
        if service is None:
            raise ConfigError(f"{schema.name}: dataflow-tenancy is not attached to this DataFlow", model=schema.name)
        options = {**schema.options, OPTION: chosen}
        if chosen == SCHEMA:
            dialect = service.db.dialect.name
            if dialect not in NAMESPACE_DIALECTS:
                raise ConfigError(
                    f"{schema.name}: a schema per tenant needs PostgreSQL or MySQL, not {dialect}; "
                    "use multi_tenant=True (row level)",
                    model=schema.name,
                )
            service.namespaces_used()
            return attrs.evolve(schema, options=options)
        return attrs.evolve(with_tenant_column(schema), options=options)
