"""The types of the ``register`` callbacks that DataFlow's hooks hand to plugins."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import click

    from .bulk.strategy import BulkStrategy
    from .changes import ChangeListener
    from .dialect import Dialect
    from .events import Monitor
    from .nodes.base import Node
    from .schema import ModelSchema
    from .scoping import SessionHook, TenancyFilter

SchemaExtension = Callable[["ModelSchema"], "ModelSchema"]
"""Takes a model's schema as ``db.model`` builds it and returns it, or a new one."""


class DialectRegister(Protocol):
    """``register(dialect_class)`` of ``dataflow_register_dialects``."""

    def __call__(self, dialect_class: type[Dialect], /) -> None: ...


class BulkStrategyRegister(Protocol):
    """``register(strategy)`` of ``dataflow_register_bulk_strategies``."""

    def __call__(self, strategy: BulkStrategy, /) -> None: ...


class TenancyFilterRegister(Protocol):
    """``register(tenancy_filter)`` of ``dataflow_register_tenancy_filters``."""

    def __call__(self, tenancy_filter: TenancyFilter, /) -> None: ...


class SchemaExtensionRegister(Protocol):
    """``register(extend)`` of ``dataflow_register_schema_extensions``."""

    def __call__(self, extend: SchemaExtension, /) -> None: ...


class SessionHookRegister(Protocol):
    """``register(hook)`` of ``dataflow_register_session_hooks``."""

    def __call__(self, hook: SessionHook, /) -> None: ...


class MonitorRegister(Protocol):
    """``register(monitor)`` of ``dataflow_register_monitors``."""

    def __call__(self, monitor: Monitor, /) -> None: ...


class NodeTypeRegister(Protocol):
    """``register(name, node_class)`` of ``dataflow_register_node_types``."""

    def __call__(self, name: str, node_class: type[Node], /) -> None: ...


class CommandRegister(Protocol):
    """``register(command)`` of ``dataflow_register_commands``."""

    def __call__(self, command: click.Command, /) -> None: ...


class ModelOptionRegister(Protocol):
    """``register(name, description)`` of ``dataflow_register_model_options``."""

    def __call__(self, name: str, description: str, /) -> None: ...


class ChangeListenerRegister(Protocol):
    """``register(listener)`` of ``dataflow_register_change_listeners``."""

    def __call__(self, listener: ChangeListener, /) -> None: ...
