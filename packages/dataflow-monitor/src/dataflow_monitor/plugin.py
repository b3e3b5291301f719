"""The ``monitor`` entry point: hook implementations that turn monitoring on for every instance.

Per instance it costs one registry of metrics and a few dicts; it starts no
thread, task or server. Servers and the lock watcher run only when asked.
The instance's :class:`Monitor` and :class:`HealthCheck` live in
``db.extensions`` (``Monitor.of(db)``, ``HealthCheck.of(db)``); ``db.monitor``,
``db.metrics`` and ``db.health`` are shortcuts to them.
"""

from __future__ import annotations

from dataflow import DataFlow, hookimpl
from dataflow.registers import CommandRegister, MonitorRegister, NodeTypeRegister

from .cli import monitor_command
from .health import HealthCheck
from .monitor import Monitor
from .nodes import HealthCheckNode, TransactionMonitorNode
from .settings import load_settings


@hookimpl
def dataflow_register_monitors(register: MonitorRegister, db: DataFlow) -> None:
    # A malformed DATAFLOW_MONITOR_* variable raises ConfigError, which the core lets through to
    # DataFlow(): monitoring with settings other than those asked for would mislead.
    register(db.extensions.add(Monitor(load_settings())))


@hookimpl
def dataflow_instance_created(db: DataFlow) -> None:
    monitor = db.extensions.get(Monitor)
    if monitor is None or monitor.db is not None:
        return
    monitor.attach(db)
    health = db.extensions.add(HealthCheck(db, monitor))
    db.extensions.shortcut("monitor", monitor)
    db.extensions.shortcut("metrics", monitor.metrics)
    db.extensions.shortcut("health", health)


@hookimpl
def dataflow_register_node_types(register: NodeTypeRegister) -> None:
    register("HealthCheckNode", HealthCheckNode)
    register("TransactionMonitorNode", TransactionMonitorNode)


@hookimpl
def dataflow_register_commands(register: CommandRegister) -> None:
    register(monitor_command)
