"""The monitor of one DataFlow instance: turns events into metrics, logs and reports.

``handle`` runs inside every statement and node of every run, so it does as
little as it can: cached metric children, one dict lookup per table, no
string formatting unless something is wrong (an error, a slow statement).
"""

from __future__ import annotations

import logging
from collections import deque
from time import monotonic, perf_counter
from typing import TYPE_CHECKING, Any

from dataflow import events
from dataflow.errors import ConfigError

from .deadlocks import DeadlockLog, DeadlockReport
from .families import MAX_LABEL_SETS
from .health import HealthReport
from .lockwatch import LockWait, LockWaitLog, LockWatcher
from .lostupdates import LostUpdateDetector
from .metrics import Metrics, StatementChildren
from .pools import pool_state
from .runs import RunTracker
from .settings import MonitorSettings, changed
from .slow import SlowStatement, SlowStatementLog
from .snapshot import build_snapshot
from .statements import StatementTable
from .tracing import Spans, available

if TYPE_CHECKING:
    from dataflow import DataFlow

log = logging.getLogger("dataflow.monitor")
READS = ("SELECT", "select", "WITH", "with")
CONFLICT = "ConcurrentUpdateError"
DEADLOCK = "DeadlockError"
RETRIED = ("attempt", "error", "delay", "databases")
"""Attributes of dataflow-txn's ``TransactionRetried``, matched by name: dataflow-txn is optional."""


def _ignore(event: Any) -> None:
    pass


class Monitor:
    """Receives the events of one ``DataFlow`` instance (``db.monitor``).

    Created by the plugin for each instance; ``attach`` binds it to the
    instance once the instance exists. Events before that are ignored.
    """

    def __init__(self, settings: MonitorSettings) -> None:
        self.settings = settings
        self.db: Any = None
        self._handlers: dict[type, Any] = {}

    @classmethod
    def of(cls, db: DataFlow) -> Monitor:
        """``db``'s monitor (``db.monitor``); ``ConfigError`` saying how to get one when it has none."""
        monitor = db.extensions.get(cls)
        if monitor is None or monitor.db is not db:
            raise ConfigError(
                f"{db.label} has no dataflow-monitor: install dataflow-monitor and make sure "
                "DATAFLOW_PLUGINS / DATAFLOW_DISABLE_PLUGINS let the 'monitor' plugin load"
            )
        return monitor

    def __repr__(self) -> str:
        return f"<dataflow_monitor.Monitor of {self.db.label if self.db is not None else 'nothing yet'}>"

    def attach(self, db: Any) -> None:
        self.db = db
        self.database: str = db.label
        self.metrics = Metrics(db.label, lambda: pool_state(db))
        self.statements = StatementTable()
        self.runs = RunTracker()
        self.slow = SlowStatementLog(db, self.settings.slow_query_log_size)
        self.deadlocks = DeadlockLog()
        self.lost_updates = LostUpdateDetector(db.label, self.settings.lost_update_window)
        self.lock_waits = LockWaitLog()
        self.conflicts: deque[dict[str, Any]] = deque(maxlen=100)
        self.retries: deque[dict[str, Any]] = deque(maxlen=100)
        self.last_health: HealthReport | None = None
        self._watcher: LockWatcher | None = None
        self._children: dict[tuple[str | None, str | None], StatementChildren] = {}
        self._apply(self.settings)
        self._handlers = {
            events.StatementExecuted: self._statement,
            events.NodeFinished: self._node,
            events.TransactionFinished: self._transaction,
            events.PoolState: self._pool,
            events.WorkflowFinished: self._workflow,
        }
        self._workflow_ok = self.metrics.workflow_seconds.labels(self.database, "ok")
        self._workflow_failed = self.metrics.workflow_seconds.labels(self.database, "error")

    def _apply(self, settings: MonitorSettings) -> None:
        self.settings = settings
        self._slow_default = settings.slow_query_seconds
        self._slow_by_model = dict(settings.slow_query_seconds_by_model)
        self.lost_updates.window = settings.lost_update_window
        self.slow.entries = deque(self.slow.entries, maxlen=settings.slow_query_log_size)
        self.spans = (
            Spans(self.database, self.db.dialect.name, settings.tracer_provider)
            if settings.tracing and available()
            else None
        )

    def configure(self, **changes: Any) -> MonitorSettings:
        """Change settings of this instance's monitor (see :class:`MonitorSettings`); returns them."""
        self._apply(changed(self.settings, changes))
        return self.settings

    # -- events -------------------------------------------------------------------

    def handle(self, event: Any) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)
        elif self.db is not None:
            self._foreign(event)

    def _foreign(self, event: Any) -> None:
        """The first event of a class the core does not define: find its handler by name, once per class.

        Events of optional packages (dataflow-txn) are matched by class name and
        attributes, so this package never imports them; unknown classes are ignored.
        """
        kind = type(event)
        handler: Any = _ignore
        if kind.__name__ == "TransactionRetried" and all(hasattr(event, name) for name in RETRIED):
            handler = self._retried
        if len(self._handlers) < 100:
            self._handlers[kind] = handler
        handler(event)

    def _statement(self, event: events.StatementExecuted) -> None:
        model, operation, duration = event.model, event.operation, event.duration
        children = self._children.get((model, operation))
        if children is None:
            children = self.metrics.statement(model, operation)
            if len(self._children) < MAX_LABEL_SETS:
                self._children[(model, operation)] = children
        children.latency.observe(duration)
        rowcount = event.rowcount
        if rowcount is not None and rowcount > 0:  # drivers say -1 for "not known"
            (children.read if event.sql.startswith(READS) else children.written).inc(rowcount)
        self.statements.add(event.sql, duration, model, operation, event.error is not None)
        if event.run_id is not None:
            self.runs.statement(event.run_id, event.sql, model)
        if event.error is not None:
            self._failed(event, children)
        threshold = self._slow_default
        if self._slow_by_model and model is not None:
            threshold = self._slow_by_model.get(model, threshold)
        if duration >= threshold:
            self._slow_statement(event, children, threshold)
        key = event.key
        if key is not None and model is not None and event.run_id is not None and event.error is None:
            self._row_access(event, model, key)
        if self.spans is not None:
            self.spans.statement(event)

    def _failed(self, event: events.StatementExecuted, children: StatementChildren) -> None:
        assert event.error is not None
        self.metrics.statement_error(children, event.model, event.operation, event.error).inc()
        if event.error == DEADLOCK:
            activity = self.runs.get(event.run_id)
            if activity is not None:
                if activity.deadlocked:
                    return  # the same deadlock, seen again by the savepoint rollback after it (MySQL)
                activity.deadlocked = True
            models = set(activity.models) if activity else ({event.model} if event.model else set())
            report = DeadlockReport(
                database=self.database,
                run_id=event.run_id,
                model=event.model,
                sql=event.sql,
                statements=tuple(activity.statements) if activity else (event.sql,),
                others={run: tuple(sql) for run, sql in self.runs.others_on(event.run_id, models).items()},
            )
            self.metrics.deadlocks.labels(self.database, event.model or "").inc()
            self.deadlocks.record(report)

    def _slow_statement(self, event: events.StatementExecuted, children: StatementChildren, threshold: float) -> None:
        children.slow.inc()
        entry = SlowStatement(
            self.database,
            event.sql,
            event.duration,
            threshold,
            event.model,
            event.operation,
            event.run_id,
            event.error,
        )
        self.slow.record(entry, explain_it=self.settings.explain, timeout=self.settings.explain_timeout)

    def _row_access(self, event: events.StatementExecuted, model: str, key: Any) -> None:
        assert event.run_id is not None
        now = monotonic()
        if event.sql.startswith(READS):
            self.lost_updates.read(event.run_id, model, key, now)
        elif self.lost_updates.write(event.run_id, model, key, now) is not None:
            self.metrics.lost_updates.labels(self.database, model).inc()

    def _node(self, event: events.NodeFinished) -> None:
        self.metrics.node(event.node_type).observe(event.duration)
        if event.error is not None:
            self.metrics.node_errors.labels(self.database, event.node_type, event.error).inc()
            if event.error == CONFLICT:
                self.metrics.conflicts.labels(self.database, event.node_type).inc()
                self.conflicts.append({"run_id": event.run_id, "node_id": event.node_id, "node_type": event.node_type})
                log.info("stale write refused on %s: %s (%s)", self.database, event.node_id, event.node_type)
        if self.spans is not None:
            self.spans.node(event)

    def _transaction(self, event: events.TransactionFinished) -> None:
        counter, histogram = self.metrics.transaction(event.committed)
        counter.inc()
        activity = self.runs.finished(event.run_id)
        if activity is not None and activity.began is not None:
            histogram.observe(perf_counter() - activity.began)

    def _retried(self, event: Any) -> None:
        error = event.error if isinstance(event.error, str) else type(event.error).__name__
        self.metrics.transaction_retry(error).inc()
        self.retries.append(
            {
                "run_id": getattr(event, "run_id", None),
                "attempt": event.attempt,
                "error": error,
                "delay": event.delay,
                "databases": list(event.databases),
            }
        )
        log.info(
            "transactional run %s on %s failed with %s (attempt %s); retrying in %.3fs",
            getattr(event, "run_id", None),
            self.database,
            error,
            event.attempt,
            event.delay,
        )

    def _pool(self, event: events.PoolState) -> None:
        self.metrics.acquire.observe(event.acquire_wait)

    def _workflow(self, event: events.WorkflowFinished) -> None:
        (self._workflow_failed if event.error else self._workflow_ok).observe(event.duration)

    # -- lock waits -----------------------------------------------------------------

    def watch_locks(self, threshold: float | None = None, interval: float | None = None) -> LockWatcher:
        """A lock watcher for this database: ``async with db.monitor.watch_locks(threshold=0.5): ...``.

        Nothing runs until it is started (``start()`` or ``async with``); it
        polls on the event loop that starts it until ``stop()``.
        """
        watcher = LockWatcher(
            self.db,
            threshold=self.settings.lock_wait_seconds if threshold is None else threshold,
            interval=self.settings.lock_poll_seconds if interval is None else interval,
            report=self._lock_wait,
            longest=self.metrics.lock_wait_longest.labels(self.database),
        )
        self._watcher = watcher
        return watcher

    def _lock_wait(self, wait: LockWait) -> None:
        self.metrics.lock_waits.labels(self.database).inc()
        self.lock_waits.record(wait)

    # -- health and snapshots ---------------------------------------------------------

    def health_checked(self, report: HealthReport) -> None:
        self.last_health = report
        self.metrics.up.labels(self.database).set(0.0 if report.status == "down" else 1.0)

    async def settle(self) -> None:
        """Wait for background work started on this loop (plans of slow statements)."""
        await self.slow.settle()

    def snapshot(self, top: int = 10) -> dict[str, Any]:
        """The current numbers as plain data (what ``TransactionMonitorNode`` returns)."""
        return build_snapshot(self, top)
