"""Parts of a transaction (participants, saga steps, scopes) take their nodes' inputs at run time, no placeholders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from txn_helpers import accounts, open_accounts, run

from dataflow import DataFlow, ValidationError, WorkflowBuilder, WorkflowBuildError, WorkflowError
from dataflow_txn import DistributedTransaction, Saga, SagaContext, SagaError


def bare_create(db: DataFlow) -> WorkflowBuilder:
    """An AccountCreateNode with none of its required inputs given when the workflow is built."""
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["AccountCreateNode"], "create", {})
    return workflow


def bare_delete(db: DataFlow) -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["AccountDeleteNode"], "delete", {})
    return workflow


def undo(context: SagaContext, results: Any) -> dict[str, Any]:
    return {"delete": {"id": results["create"]["id"]}}


def two_steps(name: str, left: DataFlow, right: DataFlow) -> DistributedTransaction:
    """A saga creating an account on ``left`` (undone by deleting it), then one on ``right``."""
    txn = DistributedTransaction(name, log=left, pattern="saga")
    txn.add_participant("left", left, bare_create(left), compensation=bare_delete(left), compensation_params=undo)
    return txn.add_participant("right", right, bare_create(right))


@pytest.fixture
def left_and_right(tmp_path: Path) -> Iterator[tuple[DataFlow, DataFlow]]:
    """Two SQLite databases with accounts."""
    left, right = open_accounts(f"sqlite:///{tmp_path / 'l.db'}"), open_accounts(f"sqlite:///{tmp_path / 'r.db'}")
    yield left, right
    left.close()
    right.close()


def test_a_participant_built_without_placeholder_values_runs_with_its_run_time_parameters(
    left_and_right: tuple[DataFlow, DataFlow], coordinator_name: str
) -> None:
    left, right = left_and_right
    two_steps(coordinator_name, left, right).execute(
        {"left": {"create": {"name": "ann"}}, "right": {"create": {"name": "bob"}}}
    )
    assert run(accounts(left)) == {"ann": 0} and run(accounts(right)) == {"bob": 0}


def test_a_required_input_missing_at_run_time_fails_its_step_naming_the_field_and_compensates(
    left_and_right: tuple[DataFlow, DataFlow], coordinator_name: str
) -> None:
    left, right = left_and_right
    with pytest.raises(SagaError) as raised:
        two_steps(coordinator_name, left, right).execute({"left": {"create": {"name": "ann"}}})
    assert raised.value.step == "right"
    cause: BaseException | None = raised.value
    while cause is not None and not isinstance(cause, ValidationError):
        cause = cause.cause if isinstance(cause, WorkflowError) else cause.__cause__
    assert isinstance(cause, ValidationError) and cause.field == "name"
    assert run(accounts(left)) == {} and run(accounts(right)) == {}


def test_an_unknown_input_is_still_refused_when_the_part_is_added(tmp_path: Any, coordinator_name: str) -> None:
    db = open_accounts(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["AccountCreateNode"], "create", {"nmae": "ann"})
        with pytest.raises(WorkflowBuildError, match="nmae"):
            DistributedTransaction(coordinator_name, log=db, pattern="saga").add_participant("a", db, workflow)
    finally:
        db.close()


def test_a_saga_step_workflow_needs_no_placeholder_values(tmp_path: Any) -> None:
    db = open_accounts(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        saga = Saga("open_bare", log=db)
        saga.step("open", db, bare_create(db), params=lambda ctx: {"create": {"name": ctx.input["name"]}})
        outcome = saga.execute({"name": "ann"})
        assert outcome.results["open"]["create"]["name"] == "ann"
        assert run(accounts(db)) == {"ann": 0}
    finally:
        db.close()
