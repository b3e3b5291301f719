"""The ``monitor`` entry point: hook implementations that turn monitoring on for every instance.

Per instance it costs one registry of metrics and a few dicts; it starts no
thread, task or server. Servers and the lock watcher run only when asked.
"""

from __future__ import annotations

from typing import Any

from dataflow import hookimpl

from .cli import monitor_command
from .health import HealthCheck
from .monitor import Monitor
from .nodes import HealthCheckNode, TransactionMonitorNode
from .settings import load_settings
from .versioning import add_version_column


@hookimpl
def dataflow_register_monitors(register: Any) -> None:
    # A malformed DATAFLOW_MONITOR_* variable raises ConfigError, which the core lets through to
    # DataFlow(): monitoring with settings other than those asked for would mislead.
    register(Monitor(load_settings()))


@hookimpl
def dataflow_instance_created(db: Any) -> None:
    monitor = next((m for m in db.monitors if isinstance(m, Monitor) and m.db is None), None)
    if monitor is None:
        return
    monitor.attach(db)
    db.monitor = monitor
    db.metrics = monitor.metrics
    db.health = HealthCheck(db, monitor)


# tryfirst puts this implementation last in the list the core collects extensions from, so the
# version column is added after other extensions ran, and one they added already is adopted.
@hookimpl(tryfirst=True)
def dataflow_register_schema_extensions(register: Any) -> None:
    register(add_version_column)


@hookimpl
def dataflow_register_node_types(register: Any) -> None:
    register("HealthCheckNode", HealthCheckNode)
    register("TransactionMonitorNode", TransactionMonitorNode)


@hookimpl
def dataflow_register_commands(register: Any) -> None:
    register(monitor_command)
