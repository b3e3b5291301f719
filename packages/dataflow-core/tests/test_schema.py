"""Models: type hints read once into a schema, with clear errors."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

import pytest

from dataflow import ConfigError, DataFlow, MaxLength, WorkflowBuilder, WorkflowBuildError
from dataflow.fields import FieldKind
from dataflow.testing.helpers import run_node


class Mood(enum.Enum):
    HAPPY = "happy"


def test_fields_kinds_defaults_and_key(db: DataFlow) -> None:
    @db.model
    class Person:
        name: Annotated[str, MaxLength(50)]
        born: dt.date | None = None
        mood: Mood = Mood.HAPPY
        tags: list = []  # type: ignore[type-arg]

    schema = db.schema("Person")
    assert schema.table == "person" and schema.primary_key == "id"
    assert [f.name for f in schema.fields] == ["id", "name", "born", "mood", "tags"]
    assert schema.pk.auto_increment
    assert schema.by_name["name"].max_length == 50 and schema.by_name["name"].required
    assert schema.by_name["born"].nullable and schema.by_name["born"].kind is FieldKind.DATE
    assert schema.by_name["mood"].default is Mood.HAPPY
    first, second = schema.by_name["tags"].make_default(), schema.by_name["tags"].make_default()
    assert first == [] and first is not second


def test_table_name_is_snake_case_or_the_option(db: DataFlow) -> None:
    @db.model
    class OrderLine:
        qty: int

    @db.model
    class Thing:
        x: int
        __dataflow__ = {"table": "things"}

    assert db.schema("OrderLine").table == "order_line" and db.schema("Thing").table == "things"


def test_unknown_model_option_names_the_nearest(db: DataFlow) -> None:
    with pytest.raises(ConfigError, match="did you mean 'indexes'"):

        @db.model
        class Bad:
            x: int
            __dataflow__ = {"indexs": [("x",)]}


def test_sql_shaped_table_name_is_refused(db: DataFlow) -> None:
    with pytest.raises(ConfigError, match="not a valid identifier"):

        @db.model
        class Bad:
            x: int
            __dataflow__ = {"table": "user; DROP TABLE user"}


def test_index_on_an_unknown_field_is_refused(db: DataFlow) -> None:
    with pytest.raises(ConfigError, match="unknown field 'emial'"):

        @db.model
        class Bad:
            email: str
            __dataflow__ = {"unique": [("emial",)]}


def test_unsupported_type_is_refused(db: DataFlow) -> None:
    with pytest.raises(ConfigError, match="not supported"):

        @db.model
        class Bad:
            x: complex


def test_two_models_on_one_table_are_refused(db: DataFlow) -> None:
    @db.model
    class A:
        x: int
        __dataflow__ = {"table": "shared"}

    with pytest.raises(ConfigError, match="both map to table 'shared'"):

        @db.model
        class B:
            x: int
            __dataflow__ = {"table": "shared"}


def test_model_registered_twice_is_refused(db: DataFlow) -> None:
    def define() -> Any:
        @db.model
        class Twice:
            x: int

    define()
    with pytest.raises(ConfigError, match="already registered"):
        define()


def test_model_generates_eleven_nodes(db: DataFlow) -> None:
    @db.model
    class User:
        name: str

    assert sorted(db.nodes) == sorted(
        f"User{op}Node"
        for op in [
            "Create",
            "Read",
            "Update",
            "Delete",
            "List",
            "Count",
            "Upsert",
            "BulkCreate",
            "BulkUpdate",
            "BulkDelete",
            "BulkUpsert",
        ]
    )


def test_two_instances_with_the_same_model_name_do_not_interfere(tmp_path: Any) -> None:
    first = DataFlow(f"sqlite:///{tmp_path / 'a.db'}")
    second = DataFlow(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        for instance in (first, second):

            @instance.model
            class User:
                name: str

        run_node(first, "UserCreateNode", {"name": "in first"})
        assert run_node(second, "UserCountNode", {}) == {"count": 0}
        assert run_node(first, "UserCountNode", {}) == {"count": 1}
        workflow = WorkflowBuilder()
        workflow.add_node("UserCountNode", "count", {})
        with pytest.raises(WorkflowBuildError, match="2 DataFlow instances define 'UserCountNode'"):
            workflow.build()
    finally:
        first.close()
        second.close()
    # Closed instances no longer answer to names.
    workflow = WorkflowBuilder()
    workflow.add_node("UserCountNode", "count", {})
    with pytest.raises(WorkflowBuildError, match="unknown node type"):
        workflow.build()


def test_max_length_inside_or_outside_optional(db: DataFlow) -> None:
    @db.model
    class Profile:
        bio: Annotated[str, MaxLength(10)] | None = None
        tag: Annotated[str | None, MaxLength(3)] = None

    schema = db.schema("Profile")
    assert (schema.by_name["bio"].max_length, schema.by_name["bio"].nullable) == (10, True)
    assert (schema.by_name["tag"].max_length, schema.by_name["tag"].nullable) == (3, True)


def test_multi_tenant_without_a_tenancy_plugin_fails_closed(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataflow.plugins import PluginHost

    host = PluginHost()
    monkeypatch.setenv("DATAFLOW_PLUGINS", "core,sqlite")
    host.load()
    monkeypatch.setattr("dataflow.database.plugin_host", lambda: host)
    db = DataFlow(f"sqlite:///{tmp_path / 't.db'}")
    try:
        with pytest.raises(ConfigError, match="install dataflow-tenancy"):

            @db.model
            class Secret:
                value: str
                __dataflow__ = {"multi_tenant": True}

        with pytest.raises(ConfigError, match="install dataflow-monitor"):

            @db.model
            class Counter:
                value: int
                __dataflow__ = {"versioned": True}

        assert db.schemas == {}
    finally:
        db.close()
