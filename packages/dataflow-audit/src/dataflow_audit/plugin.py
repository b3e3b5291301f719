"""dataflow-audit's plugin module, named in the ``dataflow`` entry-point group.

Each ``DataFlow`` gets one :class:`~dataflow_audit.service.Audit` in
``db.extensions`` (``Audit.of(db)``, shortcuts ``db.audit`` and ``db.actor``);
its recorder is the change listener of every model with ``audit`` in its
``__dataflow__``, and its session hook creates the audit tables.
"""

from __future__ import annotations

from dataflow import DataFlow, hookimpl
from dataflow.registers import (
    ChangeListenerRegister,
    CommandRegister,
    ModelOptionRegister,
    NodeTypeRegister,
    SchemaExtensionRegister,
    SessionHookRegister,
)

from .gdpr import Gdpr
from .options import OPTIONS
from .recorder import AuditRecorder
from .service import AuditSessionHook, audit_of


@hookimpl
def dataflow_register_model_options(register: ModelOptionRegister) -> None:
    for name, description in OPTIONS.items():
        register(name, description)


@hookimpl
def dataflow_register_schema_extensions(register: SchemaExtensionRegister, db: DataFlow) -> None:
    register(audit_of(db).check_model)


@hookimpl
def dataflow_register_session_hooks(register: SessionHookRegister, db: DataFlow) -> None:
    register(AuditSessionHook(audit_of(db)))


@hookimpl
def dataflow_register_change_listeners(register: ChangeListenerRegister, db: DataFlow) -> None:
    register(AuditRecorder(audit_of(db)))


@hookimpl
def dataflow_instance_created(db: DataFlow) -> None:
    service = audit_of(db)
    db.extensions.shortcut("audit", service)
    db.extensions.shortcut("actor", service.acting_as)
    db.extensions.shortcut("gdpr", db.extensions.add(Gdpr(db, service)))


@hookimpl
def dataflow_register_node_types(register: NodeTypeRegister) -> None:
    from .nodes import AuditHistoryNode  # noqa: PLC0415 - a plugin module loads its parts only when the hook runs

    register("AuditHistoryNode", AuditHistoryNode)


@hookimpl
def dataflow_register_commands(register: CommandRegister) -> None:

    from .cli import audit  # noqa: PLC0415
    from .gdpr_cli import gdpr  # noqa: PLC0415

    register(audit)
    register(gdpr)
