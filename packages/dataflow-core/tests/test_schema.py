"""Models: type hints read once into a schema, with clear errors."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

import pytest

from dataflow import (
    ColumnType,
    ConfigError,
    DataFlow,
    MaxLength,
    ValidationError,
    WorkflowBuilder,
    WorkflowBuildError,
    WorkflowError,
)
from dataflow.fields import Array, FieldKind
from dataflow.plugins import PluginHost
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


def test_model_generates_twelve_nodes(db: DataFlow) -> None:
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
            "Aggregate",
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
    host = PluginHost()
    monkeypatch.setenv("DATAFLOW_PLUGINS", "core,sqlite")
    host.load()
    monkeypatch.setattr("dataflow.database.plugin_host", lambda: host)
    monkeypatch.setattr("dataflow.registered.plugin_host", lambda: host)
    db = DataFlow(f"sqlite:///{tmp_path / 't.db'}")
    try:
        with pytest.raises(ConfigError, match="install dataflow-tenancy"):

            @db.model
            class Secret:
                value: str
                __dataflow__ = {"multi_tenant": True}

        assert db.schemas == {}

        @db.model
        class Counter:  # optimistic locking is the core's own: no plugin needed
            value: int
            __dataflow__ = {"versioned": True}

        assert db.schema("Counter").version_field == "version"
    finally:
        db.close()


def test_typed_lists_record_their_element_kind_and_stay_json(db: DataFlow) -> None:
    @db.model
    class Tagged:
        counts: list[int]
        names: Annotated[list[str], Array()]
        scores: Annotated[list[float], Array()] | None = None
        flags: Annotated[list[bool] | None, Array()] = None
        anything: list  # type: ignore[type-arg]
        loose: list[Any]
        doc: dict[str, int]

    fields = db.schemas["Tagged"].by_name
    assert {name: (f.kind, f.element_kind, f.array) for name, f in fields.items() if name != "id"} == {
        "counts": (FieldKind.JSON, FieldKind.INT, False),
        "names": (FieldKind.JSON, FieldKind.STR, True),
        "scores": (FieldKind.JSON, FieldKind.FLOAT, True),
        "flags": (FieldKind.JSON, FieldKind.BOOL, True),
        "anything": (FieldKind.JSON, None, False),
        "loose": (FieldKind.JSON, None, False),
        "doc": (FieldKind.JSON, None, False),
    }
    assert fields["scores"].nullable and fields["flags"].nullable


def test_typed_list_elements_are_validated(db: DataFlow) -> None:
    @db.model
    class Tagged:
        counts: list[int]
        names: Annotated[list[str], Array()]
        scores: list[float]
        flags: list[bool]
        anything: list  # type: ignore[type-arg]

    fields = db.schemas["Tagged"].by_name
    assert fields["counts"].validate([1, 2, -3], "Tagged") == [1, 2, -3]
    assert fields["counts"].validate([], "Tagged") == []
    assert fields["names"].validate(["a", ""], "Tagged") == ["a", ""]
    assert fields["scores"].validate([1, 2.5], "Tagged") == [1.0, 2.5]
    assert fields["flags"].validate([True, False], "Tagged") == [True, False]
    assert fields["anything"].validate([1, "x", None, True, {"k": [1]}], "Tagged") == [1, "x", None, True, {"k": [1]}]
    bad = [
        ("counts", [1, True], 1),  # bool is not int
        ("counts", [1, 2, "3"], 2),
        ("counts", [1.5], 0),
        ("counts", [None], 0),
        ("names", ["a", 1], 1),
        ("scores", [1.0, False], 1),
        ("scores", ["1.0"], 0),
        ("flags", [True, 1], 1),
        ("flags", [[True]], 0),
    ]
    for name, value, index in bad:
        with pytest.raises(ValidationError) as info:
            fields[name].validate(value, "Tagged")
        assert info.value.field == name
        assert f"Tagged.{name}[{index}]" in str(info.value), (name, value)
    for name in ("counts", "names"):
        with pytest.raises(ValidationError) as info:
            fields[name].validate({"a": 1}, "Tagged")
        assert info.value.field == name and "list[" in str(info.value)


def test_typed_list_elements_are_validated_by_nodes(db: DataFlow) -> None:
    @db.model
    class Tagged:
        counts: list[int]

    assert run_node(db, "TaggedCreateNode", {"counts": [1, 2]})["counts"] == [1, 2]
    with pytest.raises(WorkflowError) as info:
        run_node(db, "TaggedCreateNode", {"counts": [1, False]})
    assert isinstance(info.value.cause, ValidationError) and "counts[1]" in str(info.value.cause)
    assert run_node(db, "TaggedCountNode") == {"count": 1}


def test_array_marker_on_anything_but_a_typed_scalar_list_is_a_config_error(db: DataFlow) -> None:
    class Color(enum.Enum):
        RED = "red"

    for hint in (
        list,
        list[Any],
        list[dict],  # type: ignore[type-arg]
        list[list[int]],
        list[bytes],
        list[Color],
        dict[str, int],
        int,
        str,
        Color,
        list[int | None],
    ):
        namespace: dict[str, Any] = {"__annotations__": {"value": Annotated[hint, Array()]}}
        cls = type("Broken", (), namespace)
        with pytest.raises(ConfigError, match=r"Array\(\) applies to list\[int\]") as info:
            db.model(cls)
        assert info.value.field == "value", hint
    assert "Broken" not in db.schemas


def test_naming_the_default_key_id_is_the_same_as_leaving_it_out(db: DataFlow) -> None:
    @db.model
    class Ticket:
        title: str
        __dataflow__ = {"primary_key": "id"}

    schema = db.schema("Ticket")
    assert schema.primary_key == "id" and schema.pk.auto_increment
    assert run_node(db, "TicketCreateNode", {"title": "t"})["id"] == 1


def test_a_named_key_that_is_not_a_field_is_still_refused(db: DataFlow) -> None:
    with pytest.raises(ConfigError, match="primary_key 'code' is not a field"):

        @db.model
        class Ticket:
            title: str
            __dataflow__ = {"primary_key": "code"}


class Employee:
    name: str
    reports_to: Employee | None = None


def test_a_model_may_reference_itself(db: DataFlow) -> None:
    db.model(Employee)
    field = db.schema("Employee").by_name["reports_to"]
    assert field.references == "Employee" and field.kind is FieldKind.INT
    boss = run_node(db, "EmployeeCreateNode", {"name": "Ann"})
    report = run_node(db, "EmployeeCreateNode", {"name": "Bob", "reports_to": boss["id"]})
    listed = run_node(db, "EmployeeListNode", {"filter": {"reports_to": boss["id"]}})
    assert [r["name"] for r in listed["records"]] == ["Bob"] and report["reports_to"] == boss["id"]
    with pytest.raises(WorkflowError, match="Employee: a foreign key does not match a record"):
        run_node(db, "EmployeeCreateNode", {"name": "Eve", "reports_to": 999})


def test_column_type_is_the_column_s_type(db: DataFlow) -> None:
    @db.model
    class Price:
        amount: Annotated[int, ColumnType("INT4")]

    assert db.schema("Price").by_name["amount"].column_type == "INT4"
    assert '"amount" INT4 NOT NULL' in db.dialect.create_table_sql(db.schema("Price"), db.schemas)[0]


def test_column_type_refuses_text_that_is_not_a_type() -> None:
    with pytest.raises(ConfigError, match=r"ColumnType\('int; DROP TABLE x'\) is not a column type"):
        ColumnType("int; DROP TABLE x")
