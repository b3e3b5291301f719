"""dataflow-tenancy's plugin module, named in the ``dataflow`` entry-point group.

Each ``DataFlow`` gets its own filter and schema extension (the core calls
the register hooks once per instance); ``dataflow_instance_created`` ties
them to the instance's :class:`~dataflow_tenancy.service.Tenancy`, kept in
``db.extensions`` (``Tenancy.of(db)``), and offers the shortcuts
``db.tenancy``, ``db.tenant`` and ``db.tenant_admin``.
"""

from __future__ import annotations

from dataflow import DataFlow, hookimpl
from dataflow.registers import SchemaExtensionRegister, SessionHookRegister, TenancyFilterRegister

from .filter import TenantFilter
from .schema import TenantSchemaExtension
from .service import Tenancy
from .sessions import TenantSessionHook


@hookimpl
def dataflow_register_tenancy_filters(register: TenancyFilterRegister) -> None:
    register(TenantFilter())


@hookimpl
def dataflow_register_schema_extensions(register: SchemaExtensionRegister) -> None:
    register(TenantSchemaExtension())


@hookimpl
def dataflow_register_session_hooks(register: SessionHookRegister) -> None:
    register(TenantSessionHook())


@hookimpl
def dataflow_instance_created(db: DataFlow) -> None:
    tenancy_filter = next((f for f in db.tenancy_filters if isinstance(f, TenantFilter)), None)
    if tenancy_filter is None:
        return
    extension = next((e for e in db.schema_extensions if isinstance(e, TenantSchemaExtension)), None)
    service = db.extensions.add(Tenancy(db, tenancy_filter, extension))
    for hook in db.session_hooks:
        if isinstance(hook, TenantSessionHook):
            hook.service = service
    db.extensions.shortcut("tenancy", service)
    db.extensions.shortcut("tenant", service.tenant)
    db.extensions.shortcut("tenant_admin", service.admin)
