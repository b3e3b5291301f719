"""A monitor that raises never breaks a run, and is logged once per kind of failure, then counted."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from dataflow import DataFlow, LocalRuntime, WorkflowBuilder, hookimpl
from dataflow.plugins import plugin_registered


class Broken:
    """A monitor that fails on every event."""

    def __init__(self) -> None:
        self.seen = 0

    def handle(self, event: object) -> None:
        self.seen += 1
        raise RuntimeError("this monitor is broken")

    @hookimpl
    def dataflow_register_monitors(self, register: Any) -> None:
        register(self)


def test_a_failing_monitor_is_logged_once_per_kind_and_its_repeats_are_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Broken()
    with plugin_registered(broken, "broken-monitor"):
        db = DataFlow(f"sqlite:///{tmp_path}/broken.db")

        @db.model
        class Item:
            name: str

        try:
            workflow = WorkflowBuilder()
            workflow.add_node(db.nodes["ItemCreateNode"], "create", {"name": "a"})
            workflow.add_node(db.nodes["ItemReadNode"], "read", {})
            workflow.add_connection("create", "id", "read", "id")
            results, _ = LocalRuntime().execute(workflow, transaction=True)
        finally:
            db.close()
    assert results["read"]["name"] == "a"
    failures = [r for r in caplog.records if r.name == "dataflow.monitor" and "failed on" in r.getMessage()]
    kinds = {key[1] for key in db.monitors.failures}
    assert broken.seen > len(kinds) >= 3  # statements, nodes, transactions... each failed more than once
    assert len(failures) == len(kinds), [r.getMessage() for r in failures]
    assert all(r.levelno == logging.ERROR and r.exc_info for r in failures)
    assert sum(db.monitors.failures.values()) == broken.seen
    statement_key = (f"{__name__}.Broken", "StatementExecuted", "RuntimeError")
    assert db.monitors.failures[statement_key] >= 3
