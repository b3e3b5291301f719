"""Automatic pattern selection: 2PC when every participant can prepare and atomic visibility is asked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from txn_helpers import accounts, create_account, open_accounts, run

from dataflow import DataFlow, WorkflowBuilder, WorkflowBuildError
from dataflow_txn import DistributedTransaction, SagaContext, SagaError, SagaService


def delete_by_name(db: DataFlow) -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["AccountDeleteNode"], "delete", {"filter": {"name": ""}})
    return workflow


def undo(context: SagaContext, results: Any) -> dict[str, Any]:
    return {"delete": {"filter": {"name": results["create"]["name"]}}}


@pytest.fixture
def pg_and_mysql(
    pg_url: str, mysql_url: str, coordinator_name: str
) -> Iterator[tuple[DistributedTransaction, DataFlow, DataFlow]]:
    """A transaction (pattern "auto") creating an account on PostgreSQL and one on MariaDB."""
    pg, my = open_accounts(pg_url), open_accounts(mysql_url)
    try:
        txn = DistributedTransaction(coordinator_name, log=pg)
        txn.add_participant("pg", pg, create_account(pg, "ann")).add_participant("my", my, create_account(my, "bob"))
        yield txn, pg, my
    finally:
        pg.close()
        my.close()


def test_auto_picks_two_phase_commit_when_every_participant_can_prepare(
    pg_and_mysql: tuple[DistributedTransaction, DataFlow, DataFlow],
) -> None:
    txn, _, _ = pg_and_mysql
    assert txn.build() == "2pc"
    assert txn.execute().pattern == "2pc"


def test_auto_picks_a_saga_when_a_participant_cannot_prepare_and_reports_it(
    sqlite_url: str, pg_url: str, coordinator_name: str
) -> None:
    async def main() -> None:
        local, pg = open_accounts(sqlite_url), open_accounts(pg_url)
        try:
            txn = DistributedTransaction(coordinator_name, log=local)
            txn.add_participant("local", local, create_account(local, "ann"), compensation=delete_by_name(local),
                                compensation_params=undo)  # fmt: skip
            failing = create_account(pg, "ann", node_id="create")
            failing.add_node(pg.nodes["AccountCreateNode"], "again", {"name": "ann"})
            failing.add_connection("create", "balance", "again", "balance")
            txn.add_participant("pg", pg, failing)
            assert txn.pattern == "saga"
            with pytest.raises(SagaError, match="compensated local"):
                await txn.execute_async()
            assert await accounts(local) == {} and await accounts(pg) == {}
            ok = DistributedTransaction(f"{coordinator_name}b", log=local)
            ok.add_participant("local", local, create_account(local, "ann"), compensation=delete_by_name(local),
                               compensation_params=undo)  # fmt: skip
            ok.add_participant("pg", pg, create_account(pg, "bob"))
            outcome = await ok.execute_async({"pg": {"create": {"balance": 7}}})
            assert outcome.pattern == "saga"
            assert outcome.as_dict()["pattern"] == "saga"
            assert await accounts(local) == {"ann": 0} and await accounts(pg) == {"bob": 7}
        finally:
            await local.close_async()
            await pg.close_async()

    run(main())


def test_auto_picks_a_saga_when_atomic_visibility_is_not_asked(
    pg_url: str, mysql_url: str, coordinator_name: str
) -> None:
    pg, my = open_accounts(pg_url), open_accounts(mysql_url)
    try:
        txn = DistributedTransaction(coordinator_name, log=pg, atomic_visibility=False)
        txn.add_participant(
            "pg", pg, create_account(pg, "ann"), compensation=delete_by_name(pg), compensation_params=undo
        )
        txn.add_participant("my", my, create_account(my, "bob"))
        assert txn.build() == "saga"
        assert txn.execute().pattern == "saga"
    finally:
        pg.close()
        my.close()


def test_a_saga_needs_compensations_and_says_so_at_build_time(
    sqlite_url: str, pg_url: str, coordinator_name: str
) -> None:
    local, pg = open_accounts(sqlite_url), open_accounts(pg_url)
    try:
        txn = DistributedTransaction(coordinator_name, log=local, pattern="auto")
        txn.add_participant("local", local, create_account(local, "ann"))
        txn.add_participant("pg", pg, create_account(pg, "bob"))
        with pytest.raises(WorkflowBuildError, match="has no compensation"):
            txn.node()
    finally:
        local.close()
        pg.close()


def test_an_unknown_pattern_is_refused(sqlite_url: str) -> None:
    db = open_accounts(sqlite_url)
    try:
        with pytest.raises(WorkflowBuildError, match="pattern must be one of"):
            DistributedTransaction("shop", log=db, pattern="xa")
    finally:
        db.close()


def test_a_transaction_that_may_run_as_a_saga_is_known_to_saga_recovery(sqlite_url: str, pg_url: str) -> None:
    local, pg = open_accounts(sqlite_url), open_accounts(pg_url)
    try:
        txn = DistributedTransaction("signup", log=local)
        txn.add_participant("local", local, create_account(local, "ann"), compensation=delete_by_name(local),
                            compensation_params=undo)  # fmt: skip
        txn.add_participant("pg", pg, create_account(pg, "ann"))
        saga = SagaService.of(local).get("signup")
        assert saga is not None and [step.name for step in saga.steps] == ["local", "pg"]
        assert "signup" in SagaService.of(local).names
    finally:
        local.close()
        pg.close()


def test_an_idempotency_key_for_a_two_phase_transaction_is_refused_before_any_write(
    pg_and_mysql: tuple[DistributedTransaction, DataFlow, DataFlow],
) -> None:
    txn, pg, my = pg_and_mysql
    with pytest.raises(WorkflowBuildError, match="takes no idempotency key"):
        txn.execute(key="order-1")
    assert run(accounts(pg)) == {} and run(accounts(my)) == {}
