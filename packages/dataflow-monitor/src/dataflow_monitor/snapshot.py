"""A monitor's numbers as plain data: for ``TransactionMonitorNode``, ``/snapshot`` and ``dataflow monitor``."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from .pools import pool_state

if TYPE_CHECKING:
    from .monitor import Monitor


def _samples(monitor: Monitor) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in monitor.metrics.registry.collect():
        for sample in family.samples:
            found[sample.name].append((dict(sample.labels), sample.value))
    return found


def _total(samples: list[tuple[dict[str, str], float]]) -> int:
    return int(sum(value for _, value in samples))


def build_snapshot(monitor: Monitor, top: int = 10) -> dict[str, Any]:
    samples = _samples(monitor)
    operations: dict[tuple[str, str], dict[str, Any]] = {}

    def operation(labels: dict[str, str]) -> dict[str, Any]:
        key = (labels["model"], labels["operation"])
        entry = operations.get(key)
        if entry is None:
            entry = operations[key] = {
                "model": key[0] or None, "operation": key[1] or None, "count": 0, "seconds": 0.0,
                "errors": 0, "slow": 0, "rows_read": 0, "rows_written": 0,
            }  # fmt: skip
        return entry

    for labels, value in samples["dataflow_statements_total"]:
        operation(labels)["count"] = int(value)
    for labels, value in samples["dataflow_statement_duration_seconds_sum"]:
        operation(labels)["seconds"] = value
    for labels, value in samples["dataflow_statement_errors_total"]:
        operation(labels)["errors"] += int(value)
    for labels, value in samples["dataflow_slow_statements_total"]:
        operation(labels)["slow"] = int(value)
    for labels, value in samples["dataflow_rows_total"]:
        operation(labels)["rows_" + labels["direction"]] = int(value)
    errors: dict[str, int] = defaultdict(int)
    for labels, value in samples["dataflow_statement_errors_total"]:
        errors[labels["error"]] += int(value)

    nodes: dict[str, dict[str, Any]] = {}
    for labels, value in samples["dataflow_node_duration_seconds_count"]:
        nodes.setdefault(labels["node_type"], {"node_type": labels["node_type"], "errors": 0})["count"] = int(value)
    for labels, value in samples["dataflow_node_duration_seconds_sum"]:
        nodes.setdefault(labels["node_type"], {"node_type": labels["node_type"], "errors": 0})["seconds"] = value
    for labels, value in samples["dataflow_node_errors_total"]:
        nodes.setdefault(labels["node_type"], {"node_type": labels["node_type"], "errors": 0})["errors"] += int(value)

    transactions = {"commit": 0, "rollback": 0}
    for labels, value in samples["dataflow_transactions_total"]:
        transactions[labels["outcome"]] = int(value)

    retries: dict[str, int] = defaultdict(int)
    for labels, value in samples["dataflow_transaction_retries_total"]:
        retries[labels["error"]] += int(value)

    watcher = monitor._watcher
    return {
        "database": monitor.database,
        "dialect": monitor.db.dialect.name,
        "statements": {
            "total": _total(samples["dataflow_statements_total"]),
            "errors": sum(errors.values()),
            "errors_by_kind": dict(errors),
            "slow": _total(samples["dataflow_slow_statements_total"]),
            "by_operation": sorted(operations.values(), key=lambda e: e["seconds"], reverse=True),
        },
        "top_statements": monitor.statements.top(top),
        "nodes": sorted(nodes.values(), key=lambda e: e.get("seconds", 0.0), reverse=True),
        "transactions": transactions,
        "transaction_retries": {
            "count": sum(retries.values()),
            "by_error": dict(retries),
            "recent": list(monitor.retries)[-top:],
        },
        "pool": pool_state(monitor.db),
        "slow_statements": [entry.as_dict() for entry in list(monitor.slow.entries)[-top:]],
        "deadlocks": {
            "count": monitor.deadlocks.count,
            "recent": [report.as_dict() for report in list(monitor.deadlocks.entries)[-top:]],
        },
        "lock_waits": {
            "count": _total(samples["dataflow_lock_waits_total"]),
            "watching": bool(watcher and watcher.running),
            "recent": [wait.as_dict() for wait in list(monitor.lock_waits.entries)[-top:]],
        },
        "concurrent_update_conflicts": _total(samples["dataflow_concurrent_update_conflicts_total"]),
        "possible_lost_updates": {
            "count": _total(samples["dataflow_possible_lost_updates_total"]),
            "recent": [found.as_dict() for found in list(monitor.lost_updates.entries)[-top:]],
        },
        "health": monitor.last_health.as_dict() if monitor.last_health is not None else None,
    }
