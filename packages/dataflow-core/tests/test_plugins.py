"""Plugins: found through the entry-point group, filtered by environment, listed by the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import click
import pytest
from click.testing import CliRunner

from dataflow import DataFlow, LocalRuntime, ValidationError, WorkflowBuilder, cli, hookimpl
from dataflow.cli import main
from dataflow.fields import FieldKind, FieldSchema
from dataflow.nodes import Node
from dataflow.plugins import PluginHost, plugin_registered
from dataflow.registers import ModelOptionRegister, SchemaExtensionRegister
from dataflow.schema import ModelSchema
from dataflow.testing.helpers import define_people, failure, run_node
from statement_counter.plugin import StatementCounter


def test_the_example_third_party_plugin_is_discovered_through_its_entry_point(tmp_path: Path) -> None:
    infos = {info.name: info for info in PluginHost().info()}
    assert infos["statement_counter"].distribution == "dataflow-example-statement-counter"
    assert infos["statement_counter"].hooks == ("dataflow_register_monitors",)
    db = DataFlow(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        counter = StatementCounter.of(db)
        assert counter in db.monitors
        define_people(db)
        run_node(db, "UserCreateNode", {"name": "a", "email": "a@x"})
        assert counter.statements >= 2  # CREATE TABLE statements, then the INSERT
        seen = counter.statements
        run_node(db, "UserCountNode", {})
        assert counter.statements == seen + 1
    finally:
        db.close()


def test_allow_list_loads_only_the_named_plugins_and_the_built_in_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_PLUGINS", "sqlite")
    assert [info.name for info in PluginHost().info()] == ["core", "sqlite"]


def test_block_list_skips_the_named_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_DISABLE_PLUGINS", "statement_counter, sqlite")
    names = [info.name for info in PluginHost().info()]
    assert "statement_counter" not in names and "sqlite" not in names and "core" in names


def test_cli_lists_plugins_with_versions_and_hooks() -> None:
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = {p["name"]: p for p in json.loads(result.output)["plugins"]}
    assert listed["sqlite"]["distribution"] == "dataflow-sqlite"
    assert "dataflow_register_dialects" in listed["sqlite"]["hooks"]
    text = CliRunner().invoke(main, ["plugins"])
    assert "sqlite (dataflow-sqlite" in text.output


def test_cli_runs_as_a_real_command() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from dataflow.cli import run; run()", "plugins"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "dataflow_register_dialects" in result.stdout


def test_importing_dataflow_imports_no_driver() -> None:
    drivers = ("sqlite3", "asyncpg", "aiomysql", "aiosqlite", "pymysql", "dataflow_sqlite")
    code = f"import sys, dataflow; print(sorted(m for m in {drivers!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


class ExplodingMonitor:
    def __init__(self) -> None:
        self.calls = 0

    def handle(self, event: Any) -> None:
        self.calls += 1
        raise RuntimeError("monitor bug")


class MonitorPlugin:
    def __init__(self) -> None:
        self.monitor = ExplodingMonitor()

    @hookimpl
    def dataflow_register_monitors(self, register: Any) -> None:
        register(self.monitor)


def test_a_failing_monitor_never_breaks_a_run(tmp_path: Path) -> None:
    plugin = MonitorPlugin()
    with plugin_registered(plugin, "exploding-monitor"):
        db = DataFlow(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        define_people(db)
        assert run_node(db, "UserCreateNode", {"name": "a", "email": "a@x"})["name"] == "a"
        assert plugin.monitor.calls > 0
    finally:
        db.close()


class OnlyTeamOne:
    """A tenancy-like filter: every User statement is narrowed to team 1, and rows are filled with it."""

    def scope(self, schema: Any, context: Any) -> dict[str, Any] | None:
        if schema.name != "User":
            return None
        if context.get("tenant") is None:
            raise PermissionError("a tenant is required")
        return {"age": int(context["tenant"])}

    def protected_fields(self, schema: Any) -> set[str]:
        return {"age"} if schema.name == "User" else set()

    def fill(self, schema: Any, row: dict[str, Any], context: Any) -> dict[str, Any]:
        if schema.name == "User":
            if "age" in row and row["age"] != int(context["tenant"]):
                raise PermissionError("row names another tenant")
            row = {**row, "age": int(context["tenant"])}
        return row


class TenancyPlugin:
    @hookimpl
    def dataflow_register_tenancy_filters(self, register: Any) -> None:
        register(OnlyTeamOne())


def test_tenancy_filters_narrow_reads_and_fill_writes_and_fail_closed(tmp_path: Path) -> None:
    with plugin_registered(TenancyPlugin(), "test-tenancy"):
        db = DataFlow(f"sqlite:///{tmp_path / 't.db'}")
    try:
        define_people(db)
        run_node(db, "UserCreateNode", {"name": "a", "email": "a@x"}, tenant="1")
        run_node(db, "UserBulkCreateNode", {"data": [{"name": "b", "email": "b@x"}]}, tenant="2")
        assert run_node(db, "UserCountNode", {}, tenant="1") == {"count": 1}
        assert run_node(db, "UserListNode", {"filter": {"$or": [{"age": 2}, {"age": 1}]}}, tenant="2")["count"] == 1
        assert run_node(db, "UserBulkDeleteNode", {"filter": {}, "confirmed": True}, tenant="1") == {"deleted": 1}
        assert run_node(db, "UserCountNode", {}, tenant="2") == {"count": 1}
        assert isinstance(failure(db, "UserCountNode", {}), PermissionError)
        moved = failure(db, "UserUpdateNode", {"filter": {}, "fields": {"age": 1}}, tenant="2")
        assert isinstance(moved, ValidationError) and moved.field == "age"
        upsert = {"name": "b2", "email": "b@x", "conflict_on": ["email"]}
        assert run_node(db, "UserUpsertNode", upsert, tenant="2")["record"]["age"] == 2
        assert isinstance(
            failure(db, "UserCreateNode", {"name": "c", "email": "c@x", "age": 5}, tenant="2"), PermissionError
        )
    finally:
        db.close()


class Echo(Node):
    """A plugin node type with no database."""

    type_name = "EchoNode"
    parameters = frozenset({"value"})

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        return frozenset({"value"})

    async def run(self, session: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"echo": inputs["value"]}


class ExtensionPlugin:
    @hookimpl
    def dataflow_register_node_types(self, register: Any) -> None:
        register("EchoNode", Echo)

    @hookimpl
    def dataflow_register_commands(self, register: Any) -> None:
        @click.command("hello")
        def hello() -> None:
            """Say hello."""
            click.echo("hello from a plugin")

        register(hello)


def test_plugins_add_node_types_by_name() -> None:
    with plugin_registered(ExtensionPlugin(), "extension"):
        workflow = WorkflowBuilder()
        workflow.add_node("EchoNode", "echo", {"value": 42})
        results, _ = LocalRuntime().execute(workflow.build())
    assert results == {"echo": {"echo": 42}}


def test_plugins_add_cli_commands() -> None:
    with plugin_registered(ExtensionPlugin(), "extension"):
        group = cli.build_cli()
        result = CliRunner().invoke(group, ["hello"])
    assert result.exit_code == 0 and result.output == "hello from a plugin\n"
    assert "hello" not in cli.main.commands


class BrokenPlugin:
    @hookimpl
    def dataflow_register_bulk_strategies(self, register: Any) -> None:
        raise ImportError("half-installed driver")


def test_a_broken_plugin_is_skipped_and_reported(tmp_path: Path) -> None:
    with plugin_registered(BrokenPlugin(), "broken"):
        db = DataFlow(f"sqlite:///{tmp_path / 'b.db'}")
        try:
            define_people(db)
            assert run_node(db, "UserBulkCreateNode", {"data": [{"name": "a", "email": "a@x"}]}) == {"inserted": 1}
        finally:
            db.close()
        result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 1
    problems = json.loads(result.output)["problems"]
    assert {
        "plugin": "broken",
        "where": "dataflow_register_bulk_strategies",
        "error": "ImportError: half-installed driver",
    } in problems


class RevisionPlugin:
    """Adds a ``revision`` column to models that ask for it (an option it declares), and a service to each instance."""

    @hookimpl
    def dataflow_register_model_options(self, register: ModelOptionRegister) -> None:
        register("revisions", "keep a revision number")

    @hookimpl
    def dataflow_register_schema_extensions(self, register: SchemaExtensionRegister) -> None:
        def extend(schema: ModelSchema) -> ModelSchema:
            if not schema.options.get("revisions"):
                return schema
            revision = FieldSchema(name="revision", kind=FieldKind.INT, default=1)
            return attrs.evolve(schema, fields=(*schema.fields, revision))

        register(extend)

    @hookimpl
    def dataflow_instance_created(self, db: DataFlow) -> None:
        db.extensions.add(Revisions("on"))


@attrs.frozen
class Revisions:
    state: str


def test_schema_extensions_and_instance_services(tmp_path: Path) -> None:
    with plugin_registered(RevisionPlugin(), "revisions"):
        db = DataFlow(f"sqlite:///{tmp_path / 'v.db'}")
        try:
            assert db.extensions.get(Revisions) == Revisions("on")

            @db.model
            class Doc:
                title: str
                __dataflow__ = {"revisions": True}

            assert run_node(db, "DocCreateNode", {"title": "a"}) == {"id": 1, "title": "a", "revision": 1}
        finally:
            db.close()
