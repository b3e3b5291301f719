"""dataflow-monitor: metrics, slow queries, deadlocks and lock waits, race detection and health for DataFlow.

Installed, it monitors every ``DataFlow`` instance::

    db = DataFlow(url)
    db.monitor.configure(slow_query_seconds=0.2, explain=True)
    server = start_http_server(db, port=9464)     # /metrics and /snapshot
    report = await db.health()

Typed code reaches the same objects with ``Monitor.of(db)`` and ``HealthCheck.of(db)``.
"""

from .deadlocks import DeadlockReport
from .exporters import MetricsServer, metrics_app, monitor_of, registry_for, start_http_server
from .health import HealthCheck, HealthReport
from .lockwatch import LockWait, LockWatcher, Waiter
from .lostupdates import PossibleLostUpdate
from .metrics import Metrics
from .monitor import Monitor
from .nodes import HealthCheckNode, TransactionMonitorNode
from .settings import MonitorSettings
from .slow import SlowStatement

__all__ = [
    "DeadlockReport",
    "HealthCheck",
    "HealthCheckNode",
    "HealthReport",
    "LockWait",
    "LockWatcher",
    "Metrics",
    "MetricsServer",
    "Monitor",
    "MonitorSettings",
    "PossibleLostUpdate",
    "SlowStatement",
    "TransactionMonitorNode",
    "Waiter",
    "metrics_app",
    "monitor_of",
    "registry_for",
    "start_http_server",
]
