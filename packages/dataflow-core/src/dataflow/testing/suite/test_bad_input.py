"""Bad input gets a clear error naming the field, and leaves the database unchanged."""

from __future__ import annotations

import pytest

from ...database import DataFlow
from ...errors import ForeignKeyViolationError, UniqueViolationError, ValidationError, WorkflowBuildError
from ...workflow import WorkflowBuilder
from ..helpers import count, define_people, failure, people, run_node


@pytest.fixture
def users_and_ann(db: DataFlow) -> DataFlow:
    """The people models with one user, Ann, whom no failed write may disturb."""
    define_people(db)
    run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    return db


def test_missing_required_field_fails_the_build(users_and_ann: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(users_and_ann.nodes["UserCreateNode"], "create", {"name": "NoEmail"})
    with pytest.raises(WorkflowBuildError, match="'email'"):
        workflow.build()
    assert count(users_and_ann, "User") == 1


def test_required_field_given_as_null_is_a_validation_error(users_and_ann: DataFlow) -> None:
    error = failure(users_and_ann, "UserCreateNode", {"name": "NoEmail", "email": None})
    assert isinstance(error, ValidationError) and error.field == "email"
    assert count(users_and_ann, "User") == 1


def test_wrong_type(users_and_ann: DataFlow) -> None:
    error = failure(users_and_ann, "UserCreateNode", {"name": "Bo", "email": "bo@x", "age": "abc"})
    assert isinstance(error, ValidationError) and error.field == "age"
    assert "int" in str(error)
    assert count(users_and_ann, "User") == 1


def test_bool_is_not_an_int(users_and_ann: DataFlow) -> None:
    error = failure(users_and_ann, "UserCreateNode", {"name": "Bo", "email": "bo@x", "age": True})
    assert isinstance(error, ValidationError) and error.field == "age"


def test_unknown_field_in_update(users_and_ann: DataFlow) -> None:
    error = failure(users_and_ann, "UserUpdateNode", {"id": 1, "fields": {"nmae": "x"}})
    assert isinstance(error, ValidationError) and error.field == "nmae" and "name" in str(error)
    assert run_node(users_and_ann, "UserReadNode", {"id": 1})["name"] == "Ann"


def test_too_long_string_is_rejected_before_sql(users_and_ann: DataFlow) -> None:
    error = failure(users_and_ann, "UserCreateNode", {"name": "x" * 101, "email": "long@x"})
    assert isinstance(error, ValidationError) and error.field == "name" and "max_length" in str(error)
    assert count(users_and_ann, "User") == 1


def test_duplicate_unique_value_names_the_field(users_and_ann: DataFlow) -> None:
    error = failure(users_and_ann, "UserCreateNode", {"name": "Again", "email": "ann@example.com"})
    assert isinstance(error, UniqueViolationError)
    assert error.model == "User" and "email" in error.fields and "email" in str(error)
    assert count(users_and_ann, "User") == 1


def test_missing_foreign_key_target(users_and_ann: DataFlow) -> None:
    error = failure(users_and_ann, "UserCreateNode", {"name": "Bo", "email": "bo@x", "team_id": 9999})
    assert isinstance(error, ForeignKeyViolationError)
    assert count(users_and_ann, "User") == 1


def test_duplicate_inside_a_bulk_batch_writes_nothing(users_and_ann: DataFlow) -> None:
    data = people(50) + [{"name": "dup", "email": "user3@example.com"}]
    error = failure(users_and_ann, "UserBulkCreateNode", {"data": data})
    assert isinstance(error, UniqueViolationError)
    assert count(users_and_ann, "User") == 1


def test_duplicate_of_an_existing_row_in_a_bulk_batch_writes_nothing(users_and_ann: DataFlow) -> None:
    data = people(50) + [{"name": "dup", "email": "ann@example.com"}]
    assert isinstance(failure(users_and_ann, "UserBulkCreateNode", {"data": data}), UniqueViolationError)
    assert count(users_and_ann, "User") == 1


def test_conflict_on_skips_existing_rows_in_a_bulk_batch(users_and_ann: DataFlow) -> None:
    data = people(5) + [{"name": "dup", "email": "ann@example.com"}]
    result = run_node(users_and_ann, "UserBulkCreateNode", {"data": data, "conflict_on": ["email"]})
    assert result == {"inserted": 5, "skipped": 1}
    assert count(users_and_ann, "User") == 6
    assert run_node(users_and_ann, "UserReadNode", {"id": 1})["name"] == "Ann"


def test_bad_row_in_a_bulk_batch_writes_nothing(users_and_ann: DataFlow) -> None:
    data = people(20)
    data[13]["age"] = "thirteen"
    error = failure(users_and_ann, "UserBulkCreateNode", {"data": data})
    assert isinstance(error, ValidationError) and error.field == "age" and "data[13]" in str(error)
    assert count(users_and_ann, "User") == 1


def test_unknown_field_in_a_bulk_row(users_and_ann: DataFlow) -> None:
    data = people(3)
    data[1]["nickname"] = "x"
    error = failure(users_and_ann, "UserBulkCreateNode", {"data": data})
    assert isinstance(error, ValidationError) and error.field == "nickname"
    assert count(users_and_ann, "User") == 1


def test_empty_bulk_list_writes_nothing(users_and_ann: DataFlow) -> None:
    assert run_node(users_and_ann, "UserBulkCreateNode", {"data": []}) == {"inserted": 0}
    assert run_node(users_and_ann, "UserBulkUpsertNode", {"data": [], "conflict_on": ["email"]}) == {
        "inserted": 0,
        "updated": 0,
    }
    assert count(users_and_ann, "User") == 1


def test_bulk_data_must_be_a_list(users_and_ann: DataFlow) -> None:
    error = failure(users_and_ann, "UserBulkCreateNode", {"data": {"name": "x"}})
    assert isinstance(error, ValidationError) and error.field == "data"


def test_batch_larger_than_the_parameter_limit_is_split(users_and_ann: DataFlow) -> None:
    limit = users_and_ann.dialect.capabilities.max_parameters
    rows = limit // 3 + 10  # three columns: one statement could not hold them
    data = [{"name": "n", "email": f"e{i}@x", "age": 1} for i in range(rows)]
    result = run_node(users_and_ann, "UserBulkCreateNode", {"data": data, "batch_size": rows, "strategy": "values"})
    assert result == {"inserted": rows}
    assert count(users_and_ann, "User") == rows + 1


def test_bulk_delete_with_an_empty_filter_needs_confirmation(users_and_ann: DataFlow) -> None:
    error = failure(users_and_ann, "UserBulkDeleteNode", {"filter": {}})
    assert isinstance(error, ValidationError) and error.field == "filter"
    assert count(users_and_ann, "User") == 1
    assert run_node(users_and_ann, "UserBulkDeleteNode", {"filter": {}, "confirmed": True}) == {"deleted": 1}
