"""The Prometheus metrics of one DataFlow instance, in a registry of its own.

Each instance gets its own :class:`~prometheus_client.CollectorRegistry`, so
two instances never mix their numbers and nothing lands in prometheus-client's
global registry. Every metric carries a ``database`` label (the URL without
its password) so that several instances can be served on one endpoint.

Labels are bounded: models, operations, node types and error class names come
from the program, never from data; past :data:`MAX_LABEL_SETS` label sets per
metric the rest is counted under ``"other"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .families import MAX_LABEL_SETS, OTHER, FamiliesCollector, Family

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds; from a primary-key read on a held connection to a long report query."""


class StatementChildren:
    """The metric children of one (model, operation): looked up once, then used directly."""

    __slots__ = ("errors", "latency", "read", "slow", "written")

    def __init__(self, metrics: Metrics, model: str, operation: str) -> None:
        labels = (metrics.database, model, operation)
        self.latency = metrics.statement_seconds.labels(*labels)
        self.read = metrics.rows.labels(*labels, "read")
        self.written = metrics.rows.labels(*labels, "written")
        self.slow = metrics.slow_statements.labels(*labels)
        self.errors: dict[str, Any] = {}


def _counter(name: str, documentation: str, labels: list[str]) -> Family:
    return Family("counter", name, documentation, labels)


def _histogram(name: str, documentation: str, labels: list[str]) -> Family:
    return Family("histogram", name, documentation, labels, LATENCY_BUCKETS)


class Metrics:
    """Counters, histograms and gauges of one instance; see docs/monitoring.md for each."""

    def __init__(self, database: str, pool_states: Callable[[], Mapping[str, int] | None]) -> None:
        self.database = database
        statement = ["database", "model", "operation"]
        # dataflow_statements_total is the histogram's count: one update per statement, not two.
        self.statement_seconds = Family(
            "histogram",
            "dataflow_statement_duration_seconds",
            "Time from sending a statement to having its result.",
            statement,
            LATENCY_BUCKETS,
            count=("dataflow_statements", "Statements executed."),
        )
        self.rows = _counter(
            "dataflow_rows", "Rows that statements reported, read or written.", [*statement, "direction"]
        )
        self.statement_errors = _counter(
            "dataflow_statement_errors", "Statements that failed, by error class.", [*statement, "error"]
        )
        self.slow_statements = _counter(
            "dataflow_slow_statements", "Statements slower than the slow query threshold.", statement
        )
        self.node_seconds = _histogram(
            "dataflow_node_duration_seconds",
            "Time a workflow node ran, waiting for its connection included.",
            ["database", "node_type"],
        )
        self.node_errors = _counter(
            "dataflow_node_errors", "Nodes that failed, by error class.", ["database", "node_type", "error"]
        )
        self.workflow_seconds = _histogram(
            "dataflow_workflow_duration_seconds", "Time a workflow run took, end to end.", ["database", "outcome"]
        )
        self.transactions = _counter(
            "dataflow_transactions", "Transactions finished, by outcome (commit, rollback).", ["database", "outcome"]
        )
        self.transaction_retries = _counter(
            "dataflow_transaction_retries",
            "Transactional runs retried after a retryable error (dataflow-txn), by error class.",
            ["database", "error"],
        )
        self.transaction_seconds = _histogram(
            "dataflow_transaction_duration_seconds", "Time from BEGIN to COMMIT or ROLLBACK.", ["database", "outcome"]
        )
        self.acquire_seconds = _histogram(
            "dataflow_pool_acquire_wait_seconds", "Time spent waiting for a pooled connection.", ["database"]
        )
        self.deadlocks = _counter("dataflow_deadlocks", "Deadlocks the database broke.", ["database", "model"])
        self.lock_waits = _counter(
            "dataflow_lock_waits", "Lock waits longer than the threshold, seen by the lock watcher.", ["database"]
        )
        self.lock_wait_longest = Family(
            "gauge", "dataflow_lock_wait_longest_seconds", "The longest lock wait at the watcher's last look.",
            ["database"],
        )  # fmt: skip
        self.conflicts = _counter(
            "dataflow_concurrent_update_conflicts",
            "Stale writes refused on versioned models (ConcurrentUpdateError).",
            ["database", "node_type"],
        )
        self.lost_updates = _counter(
            "dataflow_possible_lost_updates",
            "Writes to a row that another run wrote between this run's read and write.",
            ["database", "model"],
        )
        self.up = Family(
            "gauge", "dataflow_up", "1 when the last health check reached the database, else 0.", ["database"]
        )
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(FamiliesCollector([v for v in vars(self).values() if isinstance(v, Family)]))
        self.registry.register(PoolCollector(database, pool_states))
        self._statement_children: dict[tuple[str | None, str | None], StatementChildren] = {}
        self._other: StatementChildren | None = None
        self._node_children: dict[str, Any] = {}
        self._transaction_children: dict[bool, tuple[Any, Any]] = {
            committed: (
                self.transactions.labels(database, "commit" if committed else "rollback"),
                self.transaction_seconds.labels(database, "commit" if committed else "rollback"),
            )
            for committed in (True, False)
        }
        self.acquire = self.acquire_seconds.labels(database)
        self._retry_children: dict[str, Any] = {}

    # -- cached children ----------------------------------------------------------

    def statement(self, model: str | None, operation: str | None) -> StatementChildren:
        children = self._statement_children.get((model, operation))
        if children is None:
            if len(self._statement_children) < MAX_LABEL_SETS:
                children = self._statement_children[(model, operation)] = StatementChildren(
                    self, model or "", operation or ""
                )
            else:
                if self._other is None:
                    self._other = StatementChildren(self, OTHER, OTHER)
                children = self._other
        return children

    def statement_error(self, children: StatementChildren, model: str | None, operation: str | None, error: str) -> Any:
        child = children.errors.get(error)
        if child is None:
            name = error if len(children.errors) < 50 else OTHER
            child = children.errors[error] = self.statement_errors.labels(
                self.database, model or "", operation or "", name
            )
        return child

    def node(self, node_type: str) -> Any:
        child = self._node_children.get(node_type)
        if child is None:
            if len(self._node_children) >= MAX_LABEL_SETS:
                return self.node_seconds.labels(self.database, OTHER)
            child = self._node_children[node_type] = self.node_seconds.labels(self.database, node_type)
        return child

    def transaction_retry(self, error: str) -> Any:
        """The retry counter child of one error class (past 50 classes, ``"other"``)."""
        child = self._retry_children.get(error)
        if child is None:
            name = error if len(self._retry_children) < 50 else OTHER
            child = self._retry_children[error] = self.transaction_retries.labels(self.database, name)
        return child

    def transaction(self, committed: bool) -> tuple[Any, Any]:
        """(counter, histogram) children of a commit or of a rollback."""
        return self._transaction_children[committed]


class PoolCollector(Collector):
    """Pool gauges read at scrape time, so they are current without any event."""

    def __init__(self, database: str, pool_states: Callable[[], Mapping[str, int] | None]) -> None:
        self.database = database
        self.pool_states = pool_states

    def describe(self) -> list[Metric]:
        return list(self._families({}))

    def collect(self) -> Iterator[Metric]:
        state = self.pool_states()
        if state is not None:
            yield from self._families(state)

    def _families(self, state: Mapping[str, int]) -> Iterator[Metric]:
        for key, help_text in (
            ("size", "Connections the pools hold, in use or idle."),
            ("in_use", "Connections lent to workflow runs."),
            ("idle", "Connections waiting to be lent."),
            ("waiting", "Tasks waiting for a connection."),
        ):
            family = GaugeMetricFamily(f"dataflow_pool_{key}", help_text, labels=["database"])
            if key in state:
                family.add_metric([self.database], float(state[key]))
            yield family
        # Pools that count their waits say so in state(): read at scrape time, nothing on the hot path.
        for key, help_text in (
            ("waits", "Acquires that had to wait for a free connection."),
            ("wait_seconds", "Seconds acquires spent waiting for a free connection."),
        ):
            counter = CounterMetricFamily(f"dataflow_pool_{key}", help_text, labels=["database"])
            if key in state:
                counter.add_metric([self.database], float(state[key]))
                yield counter
