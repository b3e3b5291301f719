"""TransactionMonitorNode, the ``dataflow monitor`` command, and the plugin's wiring."""

from __future__ import annotations

import asyncio
import json
import operator
from pathlib import Path

import pytest
from click.testing import CliRunner
from monitor_helpers import define_item, monitor, one_node, run

from dataflow import DataFlow, LocalRuntime, WorkflowBuilder
from dataflow.cli import build_cli
from dataflow.errors import ConfigError, ValidationError
from dataflow.loops import run_sync
from dataflow_monitor import HealthCheck, start_http_server
from dataflow_monitor.settings import load_settings


def test_transaction_monitor_node_returns_the_snapshot_inside_a_workflow(any_database_url: str) -> None:
    async def body() -> dict[str, object]:
        db = DataFlow(any_database_url)
        define_item(db)
        try:
            workflow = WorkflowBuilder()
            workflow.add_node(db.nodes["ItemCreateNode"], "create", {"name": "a"})
            workflow.add_node("TransactionMonitorNode", "metrics", {"databases": [db.label], "top": 5})
            workflow.add_connection("create", "id", "metrics", "after")
            results = await run(workflow, transaction=True)
        finally:
            await db.close_async()
        return results

    results = asyncio.run(body())
    (snapshot,) = results["metrics"]["databases"]  # type: ignore[index]
    assert snapshot["statements"]["total"] >= 2
    creates = [e for e in snapshot["statements"]["by_operation"] if e["operation"] == "create"]
    assert creates and creates[0]["model"] == "Item" and creates[0]["count"] >= 1
    assert len(snapshot["top_statements"]) <= 5
    assert snapshot["pool"]["in_use"] >= 1  # the run holds its connection while the node runs
    assert [n["node_type"] for n in snapshot["nodes"]] == ["ItemCreateNode"]
    json.dumps(snapshot, default=str)  # plain data


def test_transaction_monitor_node_refuses_a_bad_top_and_an_unknown_database(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path}/n.db")
    try:
        for params, field in (({"top": -1}, "top"), ({"databases": ["sqlite:///elsewhere.db"]}, "databases")):
            with pytest.raises(Exception) as raised:
                LocalRuntime().execute(one_node("TransactionMonitorNode", params))
            cause = getattr(raised.value, "cause", None)
            assert isinstance(cause, ValidationError) and cause.field == field
    finally:
        db.close()


def test_dataflow_monitor_prints_top_statements_pool_and_waits(tmp_path: Path) -> None:
    async def work(db: DataFlow) -> None:
        for index in range(3):
            await run(one_node(db.nodes["ItemCreateNode"], {"name": f"n{index}"}))

    db = DataFlow(f"sqlite:///{tmp_path}/cli.db")
    define_item(db)
    try:
        LocalRuntime()  # the sync facade's loop keeps the pool open, as an application's would

        run_sync(lambda: work(db))
        with start_http_server(db, port=0) as server:
            result = CliRunner().invoke(build_cli(), ["monitor", "--url", server.url, "--once", "--top", "50"])
            as_json = CliRunner().invoke(build_cli(), ["monitor", "--url", server.url, "--json"])
    finally:
        db.close()
    assert result.exit_code == 0, result.output
    assert db.label in result.output
    assert "top statements" in result.output
    assert 'INSERT INTO "item"' in result.output
    assert "pool: size" in result.output
    assert "lock waits (watcher not running): none" in result.output
    assert json.loads(as_json.output)["databases"][0]["database"] == db.label


def test_dataflow_monitor_says_when_nothing_answers() -> None:
    result = CliRunner().invoke(build_cli(), ["monitor", "--url", "http://127.0.0.1:9/", "--once"])
    assert result.exit_code != 0
    assert "cannot read the monitor" in result.output


def test_every_instance_gets_a_monitor_metrics_and_health(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path}/wired.db")
    try:
        assert monitor(db).db is db
        assert HealthCheck.of(db) is db.extensions.get(HealthCheck)
        # The shortcuts users already call, which type checkers do not see (typed code uses X.of(db)).
        shortcuts = operator.attrgetter("monitor", "metrics", "health")(db)
        assert shortcuts == (monitor(db), monitor(db).metrics, HealthCheck.of(db))
        assert "monitor" not in vars(db)
    finally:
        db.close()


def test_settings_come_from_the_environment_and_unknown_ones_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_MONITOR_SLOW_QUERY_SECONDS", "0.25")
    monkeypatch.setenv("DATAFLOW_MONITOR_EXPLAIN", "yes")
    settings = load_settings()
    assert settings.slow_query_seconds == 0.25 and settings.explain is True
    monkeypatch.setenv("DATAFLOW_MONITOR_EXPLAIN", "maybe")
    with pytest.raises(ConfigError, match="DATAFLOW_MONITOR_EXPLAIN"):
        load_settings()
    monkeypatch.delenv("DATAFLOW_MONITOR_EXPLAIN")
    db = DataFlow("sqlite:///:memory:")
    try:
        with pytest.raises(ConfigError, match="did you mean 'slow_query_seconds'"):
            monitor(db).configure(slow_query_second=1)
    finally:
        db.close()


def test_a_malformed_environment_variable_is_an_error_naming_it_when_the_instance_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATAFLOW_MONITOR_SLOW_QUERY_SECONDS", "0.25")
    monkeypatch.setenv("DATAFLOW_MONITOR_EXPLAIN_TIMEOUT", "five")
    with pytest.raises(ConfigError, match="DATAFLOW_MONITOR_EXPLAIN_TIMEOUT must be a number, got 'five'") as info:
        DataFlow("sqlite:///:memory:")
    assert info.value.field == "explain_timeout"
    assert "SLOW_QUERY_SECONDS" not in str(info.value)  # the valid one is not blamed


def test_every_malformed_variable_is_named_and_out_of_range_ones_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_MONITOR_LOCK_POLL_SECONDS", "-1")
    monkeypatch.setenv("DATAFLOW_MONITOR_TRACING", "sometimes")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "DATAFLOW_MONITOR_LOCK_POLL_SECONDS: monitor setting lock_poll_seconds must not be negative" in message
    assert "DATAFLOW_MONITOR_TRACING must be a boolean" in str(info.value)


def test_valid_variables_are_all_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_MONITOR_SLOW_QUERY_SECONDS", "0.25")
    monkeypatch.setenv("DATAFLOW_MONITOR_LOCK_WAIT_SECONDS", "3")
    db = DataFlow("sqlite:///:memory:")
    try:
        assert monitor(db).settings.slow_query_seconds == 0.25
        assert monitor(db).settings.lock_wait_seconds == 3.0
    finally:
        db.close()
