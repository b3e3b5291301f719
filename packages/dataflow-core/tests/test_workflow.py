"""Workflows: build-time checks, data flow between nodes, conditions, failures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    LocalRuntime,
    NotFoundError,
    ValidationError,
    WorkflowBuilder,
    WorkflowBuildError,
    WorkflowError,
)
from dataflow.nodes import Node
from dataflow.testing.helpers import define_people


@pytest.fixture
def people(db: DataFlow) -> DataFlow:
    define_people(db)
    return db


def create_then_read(db: DataFlow) -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreateNode", "create", {"name": "Ann", "email": "ann@x", "age": 30})
    workflow.add_node("UserReadNode", "read", {})
    workflow.add_connection("create", "id", "read", "id")
    return workflow


def test_outputs_flow_along_connections(people: DataFlow) -> None:
    results, run_id = LocalRuntime().execute(create_then_read(people).build())
    assert results["read"] == results["create"] and results["read"]["age"] == 30
    assert isinstance(run_id, str) and len(run_id) == 32


def test_dotted_output_and_input_paths(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserUpsertNode", "upsert", {"name": "Ann", "email": "ann@x", "conflict_on": ["email"]})
    workflow.add_node("UserUpdateNode", "update", {"fields": {"name": "renamed"}})
    workflow.add_connection("upsert", "record.id", "update", "id")
    workflow.add_connection("upsert", "record.age", "update", "fields.age")
    results, _ = LocalRuntime().execute(workflow.build())
    assert results["update"]["name"] == "renamed" and results["update"]["age"] == 0


def test_runtime_parameters_override_node_parameters(people: DataFlow) -> None:
    results, _ = LocalRuntime().execute(create_then_read(people).build(), {"create": {"name": "Bea"}})
    assert results["read"]["name"] == "Bea"


def test_unknown_node_type_suggests_the_nearest(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreatNode", "create", {})
    with pytest.raises(WorkflowBuildError, match="did you mean 'UserCreateNode'"):
        workflow.build()


def test_cycles_are_refused(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserReadNode", "a", {})
    workflow.add_node("UserReadNode", "b", {})
    workflow.add_connection("a", "id", "b", "id")
    workflow.add_connection("b", "id", "a", "id")
    with pytest.raises(WorkflowBuildError, match="cycle through nodes a, b"):
        workflow.build()


def test_dangling_connections_are_refused(people: DataFlow) -> None:
    workflow = create_then_read(people)
    workflow.add_connection("create", "id", "raed", "id")
    with pytest.raises(WorkflowBuildError, match="unknown node 'raed'"):
        workflow.build()


def test_inputs_nothing_provides_are_refused(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserReadNode", "read", {})
    with pytest.raises(WorkflowBuildError, match="needs 'id'"):
        workflow.build()


def test_unknown_parameters_are_refused(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserListNode", "list", {"limt": 3})
    with pytest.raises(WorkflowBuildError, match="did you mean 'limit'"):
        workflow.build()
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreateNode", "create", {"name": "a", "email": "b", "nmae": "c"})
    with pytest.raises(WorkflowBuildError, match="nmae"):
        workflow.build()


def test_duplicate_node_ids_are_refused() -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("X", "a", {})
    with pytest.raises(WorkflowBuildError, match="used twice"):
        workflow.add_node("X", "a", {})


def test_an_output_path_typo_fails_the_build_listing_the_outputs(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreateNode", "create", {"name": "Ann", "email": "ann@x"})
    workflow.add_node("UserReadNode", "read", {})
    workflow.add_connection("create", "idd", "read", "id")
    with pytest.raises(WorkflowBuildError) as info:
        workflow.build()
    message = str(info.value)
    assert message.startswith("connection create.idd -> read.id: node 'create' (UserCreateNode) has no output 'idd'")
    assert "did you mean 'id'?" in message and "its outputs are: id, name, email, age" in message
    assert "failed" not in message


def test_a_nested_output_path_typo_names_the_path_and_what_is_there(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserUpsertNode", "upsert", {"name": "Ann", "email": "ann@x", "conflict_on": ["email"]})
    workflow.add_node("UserReadNode", "read", {})
    workflow.add_connection("upsert", "record.idd", "read", "id")
    with pytest.raises(WorkflowBuildError, match=r"no output 'record\.idd'; did you mean 'id'\?; 'record' has: id, "):
        workflow.build()
    workflow = WorkflowBuilder()
    workflow.add_node("UserCountNode", "count", {})
    workflow.add_node("UserReadNode", "read", {})
    workflow.add_connection("count", "count.id", "read", "id")
    with pytest.raises(WorkflowBuildError, match=r"no output 'count\.id'; 'count' is a plain value"):
        workflow.build()


def test_a_condition_naming_a_field_the_source_does_not_output_fails_the_build(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreateNode", "create", {"name": "Kid", "email": "kid@x", "age": 9})
    workflow.add_node("UserUpdateNode", "adult", {"fields": {"active": False}})
    workflow.add_connection("create", "id", "adult", "id", when="name != 'x' and agee >= 18")
    with pytest.raises(WorkflowBuildError) as info:
        workflow.build()
    message = str(info.value)
    assert "condition \"name != 'x' and agee >= 18\"" in message
    assert "has no output 'agee'; did you mean 'age'?" in message
    assert info.value.node_id == "adult"
    assert people_count(people) == 0


def test_paths_into_lists_and_json_fields_are_left_to_the_run(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserListNode", "list", {"filter": {"name": "nobody"}})
    workflow.add_node("UserReadNode", "read", {})
    workflow.add_connection("list", "records.0.id", "read", "id", when="records.0.id != null")
    results, _ = LocalRuntime().execute(workflow.build())
    # No record: the index is past the end, which is data, not a typo; the target is skipped.
    assert results == {"list": {"records": [], "count": 0}}


class Echo(Node):
    """A node without a database whose output shape is unknown before it runs: returns its inputs."""

    type_name = "Echo"

    async def run(self, session: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        return dict(inputs)


def people_count(db: DataFlow) -> int:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["UserCountNode"], "count", {})
    results, _ = LocalRuntime().execute(workflow)
    return int(results["count"]["count"])


def test_a_condition_naming_a_missing_output_fails_the_run_naming_it(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreateNode", "create", {"name": "Ann", "email": "ann@x", "age": 40})
    workflow.add_node(Echo, "echo", {})
    workflow.add_node("UserUpdateNode", "adult", {"fields": {"active": False}})
    workflow.add_connection("create", "", "echo", "")
    workflow.add_connection("echo", "id", "adult", "id", when="agee >= 18")
    with pytest.raises(WorkflowError) as info:
        LocalRuntime().execute(workflow.build(), transaction=True)
    message = str(info.value)
    assert message.startswith("connection echo.id -> adult.id, condition 'agee >= 18': node 'echo' (Echo)")
    assert "has no output 'agee'; did you mean 'age'?" in message and "its outputs are: id, name" in message
    # No node failed: the source's result stands, nothing is blamed, and the run's writes are rolled back.
    assert info.value.node_id is None and info.value.cause is None and "failed" not in message
    assert set(info.value.results) == {"create", "echo"}
    assert people_count(people) == 0


def test_a_condition_on_an_output_the_inputs_decide_is_checked_when_it_runs(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreateNode", "create", {"name": "Ann", "email": "ann@x"})
    workflow.add_node("UserUpdateNode", "update", {"fields": {"age": 3}})
    workflow.add_node("UserCountNode", "count", {})
    workflow.add_connection("create", "id", "update", "id")
    # Update outputs "updated" by filter, the record by id: the build cannot tell which.
    workflow.add_connection("update", "", "count", "", when="updated > 0")
    with pytest.raises(WorkflowError, match=r"condition 'updated > 0': node 'update' \(UserUpdateNode\) has no output"):
        LocalRuntime().execute(workflow.build())


def test_an_output_path_missing_at_run_time_is_reported_against_the_connection(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreateNode", "create", {"name": "Ann", "email": "ann@x"})
    workflow.add_node(Echo, "echo", {})
    workflow.add_node("UserReadNode", "read", {})
    workflow.add_connection("create", "", "echo", "")
    workflow.add_connection("echo", "idd", "read", "id")
    with pytest.raises(WorkflowError) as info:
        LocalRuntime().execute(workflow.build(), transaction=True)
    message = str(info.value)
    assert message.startswith("connection echo.idd -> read.id: node 'echo' (Echo) has no output 'idd'")
    assert "did you mean 'id'?" in message and "its outputs are: id, name, email" in message
    assert info.value.node_id is None and "failed" not in message
    assert set(info.value.results) == {"create", "echo"}
    assert people_count(people) == 0


def test_conditional_connection_skips_the_target_when_false(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreateNode", "create", {"name": "Kid", "email": "kid@x", "age": 9})
    workflow.add_node("UserUpdateNode", "adult", {"fields": {"active": False}})
    workflow.add_node("UserReadNode", "after", {})
    workflow.add_connection("create", "id", "adult", "id", when="age >= 18")
    workflow.add_connection("adult", "id", "after", "id")
    results, _ = LocalRuntime().execute(workflow.build())
    assert set(results) == {"create"}
    results, _ = LocalRuntime().execute(workflow.build(), {"create": {"email": "grown@x", "age": 40}})
    assert results["adult"]["active"] is False and results["after"]["id"] == results["create"]["id"]


def test_failure_carries_the_node_the_cause_and_finished_results(people: DataFlow) -> None:
    workflow = create_then_read(people)
    workflow.add_node("UserReadNode", "missing", {"id": 999})
    workflow.add_connection("read", "id", "missing", "raise_on_not_found")
    with pytest.raises(WorkflowError) as info:
        LocalRuntime().execute(workflow.build())
    assert info.value.node_id == "missing" and isinstance(info.value.cause, NotFoundError)
    assert set(info.value.results) == {"create", "read"}
    assert "missing" in str(info.value) and "UserReadNode" in str(info.value)


class Sleep(Node):
    """A node without a database: sleeps, then echoes its input."""

    type_name = "Sleep"
    parameters = frozenset({"seconds", "value"})

    async def run(self, session: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(inputs["seconds"])
        return {"value": inputs.get("value")}


def test_independent_branches_run_concurrently() -> None:
    workflow = WorkflowBuilder()
    for i in range(5):
        workflow.add_node(Sleep, f"s{i}", {"seconds": 0.2, "value": i})

    async def main() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        results, _ = await AsyncLocalRuntime().execute_async(workflow.build())
        assert [results[f"s{i}"]["value"] for i in range(5)] == list(range(5))
        return loop.time() - started

    # Five 0.2 s sleeps in sequence take a second; concurrently, about 0.2 s.
    assert asyncio.run(main()) < 0.9


def test_local_runtime_works_inside_a_running_loop(people: DataFlow) -> None:
    async def main() -> dict[str, Any]:
        results, _ = LocalRuntime().execute(create_then_read(people).build())
        return results

    results = asyncio.run(main())
    assert results["read"]["name"] == "Ann"


def test_node_classes_can_be_passed_instead_of_names(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(people.nodes["UserCountNode"], "count", {})
    results, _ = LocalRuntime().execute(workflow)
    assert results["count"] == {"count": 0}


def test_validation_errors_name_the_field(people: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("UserListNode", "list", {"limit": -1})
    with pytest.raises(WorkflowError) as info:
        LocalRuntime().execute(workflow.build())
    assert isinstance(info.value.cause, ValidationError) and info.value.cause.field == "limit"


def test_a_run_on_the_callers_session_leaves_its_transaction_alone(people: DataFlow, tmp_path: Any) -> None:
    other = DataFlow(f"sqlite:///{tmp_path / 'other.db'}")

    @other.model
    class Note:
        text: str

    async def main() -> tuple[int, int]:
        session = await people.open_session()
        try:
            await session.begin()
            results, _ = await AsyncLocalRuntime().execute_async(
                create_then_read(people).build(), sessions={people: session}
            )
            assert results["read"]["name"] == "Ann" and session.in_transaction
            inside = await session.fetch('SELECT COUNT(*) FROM "user"')
            await session.rollback()
            after = await session.fetch('SELECT COUNT(*) FROM "user"')
            workflow = WorkflowBuilder()
            workflow.add_node(other.nodes["NoteCountNode"], "count", {})
            with pytest.raises(WorkflowError, match="was not given"):
                await AsyncLocalRuntime().execute_async(workflow.build(), sessions={people: session})
            with pytest.raises(WorkflowBuildError, match="leaves transactions to the caller"):
                await AsyncLocalRuntime().execute_async(workflow.build(), sessions={people: session}, transaction=True)
            return int(inside[0][0]), int(after[0][0])
        finally:
            await people.close_session(session)
            await people.close_loop(asyncio.get_running_loop())
            await other.close_async()

    assert asyncio.run(main()) == (1, 0)
