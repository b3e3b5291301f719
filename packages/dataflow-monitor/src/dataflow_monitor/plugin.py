"""The ``monitor`` entry point: hook implementations that turn monitoring on for every instance.

Per instance it costs one registry of metrics and a few dicts; it starts no
thread, task or server. Servers and the lock watcher run only when asked.
The instance's :class:`Monitor` and :class:`HealthCheck` live in
``db.extensions`` (``Monitor.of(db)``, ``HealthCheck.of(db)``); ``db.monitor``,
``db.metrics`` and ``db.health`` are shortcuts to them.
"""

from __future__ import annotations

import logging

from dataflow import DataFlow, hookimpl
from dataflow.errors import ConfigError
from dataflow.registers import CommandRegister, MonitorRegister, NodeTypeRegister

from .cli import monitor_command
from .health import HealthCheck
from .monitor import Monitor
from .nodes import HealthCheckNode, TransactionMonitorNode
from .settings import MonitorSettings, load_settings

log = logging.getLogger("dataflow.monitor")


@hookimpl
def dataflow_register_monitors(register: MonitorRegister, db: DataFlow) -> None:
    try:
        settings = load_settings()
    except ConfigError as exc:
        # A typo in one variable must not switch monitoring off: say so, and monitor with the defaults.
        log.error("%s; dataflow-monitor uses its defaults", exc.message)
        settings = MonitorSettings()
    register(db.extensions.add(Monitor(settings)))


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
