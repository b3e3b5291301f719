"""dataflow-tenancy's plugin module, named in the ``dataflow`` entry-point group.

Each ``DataFlow`` gets its own filter and schema extension (the core calls
the register hooks once per instance); ``dataflow_instance_created`` ties
them to the instance's :class:`~dataflow_tenancy.service.Tenancy` and
attaches ``db.tenancy``, ``db.tenant`` and ``db.tenant_admin``.
"""

from __future__ import annotations

from typing import Any

from dataflow import hookimpl

from .filter import TenantFilter
from .schema import TenantSchemaExtension
from .service import Tenancy
from .sessions import TenantSessionHook

ATTRIBUTES = ("tenancy", "tenant", "tenant_admin")


@hookimpl
def dataflow_register_tenancy_filters(register: Any) -> None:
    register(TenantFilter())


@hookimpl
def dataflow_register_schema_extensions(register: Any) -> None:
    register(TenantSchemaExtension())


@hookimpl
def dataflow_register_session_hooks(register: Any) -> None:
    register(TenantSessionHook())


@hookimpl
def dataflow_instance_created(db: Any) -> None:
    tenancy_filter = next((f for f in db.tenancy_filters if isinstance(f, TenantFilter)), None)
    if tenancy_filter is None:
        return
    extension = next((e for e in db.schema_extensions if isinstance(e, TenantSchemaExtension)), None)
    for name in ATTRIBUTES:
        if hasattr(db, name):
            raise AttributeError(f"DataFlow already has an attribute {name!r}; dataflow-tenancy cannot attach")
    service = Tenancy(db, tenancy_filter, extension)
    db.tenancy = service
    db.tenant = service.tenant
    db.tenant_admin = service.admin
