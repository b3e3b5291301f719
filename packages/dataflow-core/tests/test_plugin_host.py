"""The plugin host behaves like pluggy: call order, built-in plugins, checked plugin names, typed state."""

from __future__ import annotations

import json
import operator
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dataflow import ConfigError, DataFlow, hookimpl
from dataflow.cli import main
from dataflow.plugins import PluginHost, plugin_host, plugin_registered
from dataflow.registered import registered_model_options
from dataflow.registers import ModelOptionRegister, MonitorRegister
from dataflow.testing.helpers import define_people, run_node


@pytest.fixture
def only_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh PluginHost loads only the core and SQLite plugins besides the test's own."""
    monkeypatch.setenv("DATAFLOW_PLUGINS", "sqlite")


class Recorder:
    """A monitor that says which plugin registered it."""

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin

    def handle(self, event: Any) -> None:
        pass


def ordered_plugin(name: str, *, tryfirst: bool = False, trylast: bool = False) -> object:
    class Plugin:
        @hookimpl(tryfirst=tryfirst, trylast=trylast)
        def dataflow_register_monitors(self, register: MonitorRegister) -> None:
            register(Recorder(name))

    return Plugin()


def test_hooks_run_in_pluggys_order_tryfirst_first_trylast_last_and_the_latest_plain_one_first(
    only_sqlite: None,
) -> None:
    host = PluginHost()
    host.register(ordered_plugin("last", trylast=True), "last")
    host.register(ordered_plugin("plain-early"), "plain-early")
    host.register(ordered_plugin("first", tryfirst=True), "first")
    host.register(ordered_plugin("plain-late"), "plain-late")
    ours = [m.plugin for m in host.collect("dataflow_register_monitors", db=None) if isinstance(m, Recorder)]
    assert ours == ["first", "plain-late", "plain-early", "last"]
    pluggys: list[Any] = []
    host.manager.hook.dataflow_register_monitors(register=pluggys.append, db=None)
    assert ours == [m.plugin for m in pluggys if isinstance(m, Recorder)]


class Failing:
    @hookimpl(tryfirst=True)
    def dataflow_register_monitors(self, register: MonitorRegister) -> None:
        register(Recorder("failing"))
        raise RuntimeError("monitor plugin bug")


def test_a_plugin_that_raises_is_skipped_with_what_it_registered_and_the_others_still_run(only_sqlite: None) -> None:
    host = PluginHost()
    host.register(ordered_plugin("fine"), "fine")
    host.register(Failing(), "failing")
    ours = [m.plugin for m in host.collect("dataflow_register_monitors", db=None) if isinstance(m, Recorder)]
    assert ours == ["fine"]
    assert [(p.plugin, p.where, p.error) for p in host.problems] == [
        ("failing", "dataflow_register_monitors", "RuntimeError: monitor plugin bug")
    ]


class Wrapper:
    @hookimpl(wrapper=True)
    def dataflow_register_monitors(self, register: MonitorRegister) -> Any:
        return (yield)


def test_a_hook_wrapper_is_refused_as_a_problem_not_called(only_sqlite: None) -> None:
    host = PluginHost()
    host.register(Wrapper(), "wrapper")
    host.collect("dataflow_register_monitors", db=None)
    assert [(p.plugin, p.error) for p in host.problems] == [
        ("wrapper", "TypeError: hook wrappers are not supported by DataFlow's hooks")
    ]


def test_the_core_plugin_is_built_in_and_loads_whatever_the_allow_list_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_PLUGINS", "sqlite")
    infos = {info.name: info for info in PluginHost().info()}
    assert sorted(infos) == ["core", "sqlite"]
    assert infos["core"].distribution == "dataflow-core"
    assert infos["core"].hooks == ("dataflow_register_bulk_strategies", "dataflow_register_node_types")


def test_the_core_plugin_cannot_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_DISABLE_PLUGINS", "core")
    with pytest.raises(ConfigError, match="'core', which is part of dataflow-core and cannot be disabled"):
        PluginHost().load()


def test_an_allow_list_name_that_is_not_installed_is_a_config_error_listing_the_installed_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATAFLOW_PLUGINS", "sqlit")
    with pytest.raises(ConfigError) as caught:
        PluginHost().load()
    assert caught.value.message.startswith(
        "DATAFLOW_PLUGINS names plugin 'sqlit', which is not installed; did you mean 'sqlite'?; installed plugins: "
    )
    assert "core" in caught.value.message and "sqlite" in caught.value.message


def test_every_unknown_name_is_listed_in_the_order_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_PLUGINS", "zzz, sqlit, sqlite")
    with pytest.raises(ConfigError) as caught:
        PluginHost().load()
    assert caught.value.message.startswith(
        "DATAFLOW_PLUGINS names plugin 'zzz', which is not installed; not installed either: 'sqlit'; "
        "installed plugins: "
    )


def test_a_block_list_name_that_is_not_installed_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_DISABLE_PLUGINS", "sqlite, statement_countr")
    with pytest.raises(
        ConfigError, match=r"DATAFLOW_DISABLE_PLUGINS names plugin 'statement_countr'.*'statement_counter'"
    ):
        PluginHost().load()


def run_python(code: str, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **environment}
    env.pop("DATAFLOW_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], check=False, capture_output=True, text=True, env=env
    )


def test_bulk_delete_works_when_only_the_sqlite_plugin_is_allowed(tmp_path: Path) -> None:
    result = run_python(
        f"""
        from dataflow import DataFlow
        from dataflow.testing.helpers import define_people, run_node

        db = DataFlow("sqlite:///{tmp_path / "only.db"}")
        define_people(db)
        rows = [{{"name": "a", "email": "a@x"}}, {{"name": "b", "email": "b@x"}}]
        run_node(db, "UserBulkCreateNode", {{"data": rows}})
        print(run_node(db, "UserBulkDeleteNode", {{"filter": {{"name": "a"}}}}))
        db.close()
        """,
        DATAFLOW_PLUGINS="sqlite",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'deleted': 1}"


def test_a_misspelt_allow_list_fails_data_flow_with_the_installed_names_not_a_missing_url() -> None:
    result = run_python("from dataflow import DataFlow; DataFlow()", DATAFLOW_PLUGINS="sqlit")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("dataflow.errors.ConfigError: DATAFLOW_PLUGINS names plugin 'sqlit', which is not installed")
    assert "no database URL" not in result.stderr


def test_the_plugins_command_exits_1_on_a_misspelt_plugin_name() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from dataflow.cli import run; run()", "plugins"],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "DATAFLOW_PLUGINS": "sqlite,sqlitee"},
    )
    assert result.returncode == 1
    assert "Error: DATAFLOW_PLUGINS names plugin 'sqlitee', which is not installed; did you mean 'sqlite'?" in (
        result.stderr
    )


class BrokenImport:
    @hookimpl
    def dataflow_register_dialects(self, register: Any) -> None:
        raise ImportError("half-installed driver")


def test_the_plugins_command_exits_1_when_a_plugin_failed_and_0_otherwise() -> None:
    assert CliRunner().invoke(main, ["plugins"]).exit_code == 0
    with plugin_registered(BrokenImport(), "broken-dialect"):
        text = CliRunner().invoke(main, ["plugins"])
        listed = CliRunner().invoke(main, ["plugins", "--json"])
    assert text.exit_code == 1
    assert "problem: plugin 'broken-dialect' failed in dataflow_register_dialects" in text.output
    assert listed.exit_code == 1
    assert json.loads(listed.output)["problems"] == [
        {
            "plugin": "broken-dialect",
            "where": "dataflow_register_dialects",
            "error": "ImportError: half-installed driver",
        }
    ]


class Counter:
    """A per-instance service a plugin keeps in ``db.extensions``."""

    def __init__(self, db: DataFlow) -> None:
        self.db = db
        self.events = 0

    def handle(self, event: Any) -> None:
        self.events += 1

    @classmethod
    def of(cls, db: DataFlow) -> Counter:
        return db.extensions.require(cls, "register the counting plugin")


class CountingPlugin:
    @hookimpl
    def dataflow_register_monitors(self, register: MonitorRegister, db: DataFlow) -> None:
        register(db.extensions.add(Counter(db)))

    @hookimpl
    def dataflow_instance_created(self, db: DataFlow) -> None:
        db.extensions.shortcut("counter", Counter.of(db))


def test_per_instance_hooks_receive_the_instance_and_keep_their_state_in_db_extensions(tmp_path: Path) -> None:
    with plugin_registered(CountingPlugin(), "counting"):
        one = DataFlow(f"sqlite:///{tmp_path / 'one.db'}")
        two = DataFlow(f"sqlite:///{tmp_path / 'two.db'}")
    try:
        assert Counter.of(one) is not Counter.of(two)
        assert Counter.of(one).db is one and Counter.of(two).db is two
        define_people(one)
        run_node(one, "UserCountNode", {})
        assert Counter.of(one).events > 0 and Counter.of(two).events == 0
        # The shortcut users may call; type checkers do not see it (typed code uses Counter.of(db)).
        assert operator.attrgetter("counter")(one) is Counter.of(one)
        assert "counter" not in vars(one)  # nothing was set on the instance
    finally:
        one.close()
        two.close()
    with pytest.raises(ConfigError, match="has no Counter: register the counting plugin"):
        Counter.of(DataFlow("sqlite:///:memory:"))


def test_an_unknown_attribute_is_still_an_attribute_error(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with pytest.raises(AttributeError, match="'DataFlow' object has no attribute 'countr'"):
            operator.attrgetter("countr")(db)
    finally:
        db.close()


class Clashing:
    @hookimpl
    def dataflow_instance_created(self, db: DataFlow) -> None:
        db.extensions.shortcut("schemas", {})


def test_a_shortcut_that_would_hide_a_data_flow_attribute_is_refused_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = DataFlow(f"sqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("DATAFLOW_PLUGINS", "sqlite")
    host = PluginHost()
    host.register(Clashing(), "clashing")
    try:
        host.notify("dataflow_instance_created", db=db)
        assert db.schemas == {}
        assert [(p.plugin, p.error) for p in host.problems] == [
            ("clashing", "ConfigError: a plugin cannot add the shortcut db.schemas: DataFlow has its own 'schemas'")
        ]
    finally:
        db.close()


def test_one_object_per_class_in_db_extensions(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path / 'e.db'}")
    try:
        first = db.extensions.add(Counter(db))
        with pytest.raises(ConfigError, match="already has a Counter extension"):
            db.extensions.add(Counter(db))
        assert db.extensions.get(Counter) is first and Counter in db.extensions
    finally:
        db.close()


class StampOption:
    @hookimpl
    def dataflow_register_model_options(self, register: ModelOptionRegister) -> None:
        register("stamped", "stamp every record with its writer")


class TakenOption:
    @hookimpl
    def dataflow_register_model_options(self, register: ModelOptionRegister) -> None:
        register("table", "a second meaning for 'table'")


def test_a_plugin_declares_the_model_options_it_owns(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path / 'o.db'}")
    try:
        with plugin_registered(StampOption(), "stamp"):

            @db.model
            class Widget:
                name: str
                __dataflow__ = {"stamped": True}

            assert db.schema("Widget").options["stamped"] is True
            with pytest.raises(ConfigError) as caught:

                @db.model
                class Gadget:
                    name: str
                    __dataflow__ = {"stampd": True}

            assert "Gadget.__dataflow__ has no option 'stampd'; did you mean 'stamped'?" in caught.value.message
        with pytest.raises(ConfigError, match=r"Gizmo\.__dataflow__ has no option 'stamped'"):

            @db.model
            class Gizmo:
                name: str
                __dataflow__ = {"stamped": True}
    finally:
        db.close()


def test_a_plugin_option_that_the_core_already_has_is_reported_and_skipped() -> None:
    with plugin_registered(TakenOption(), "taken"):
        options = registered_model_options()
        problems = [(p.plugin, p.error) for p in plugin_host().problems]
    assert options["table"].startswith("the table's name")
    assert ("taken", "ConfigError: option 'table' already exists") in problems
