"""Sagas across SQLite and a server database: order, compensation, idempotency, crash recovery."""

from __future__ import annotations

import json
import operator
import os
import subprocess
import sys
from pathlib import Path

import pytest
from saga_helpers import opening_saga
from txn_helpers import HERE, accounts, create_account, kill, open_accounts, run, start_script, wait_for_line

from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder, WorkflowBuildError
from dataflow_txn import Saga, SagaError, SagaService, run_once
from dataflow_txn.saga import SagaRecoveryReport


async def balances(*dbs: DataFlow) -> list[dict[str, int]]:
    return [await accounts(db) for db in dbs]


def test_every_instance_has_a_saga_service(sqlite_url: str) -> None:
    db = DataFlow(sqlite_url)
    try:
        assert isinstance(SagaService.of(db), SagaService)
        # The shortcut users already call, which type checkers do not see (typed code uses SagaService.of(db)).
        assert operator.attrgetter("sagas")(db) is SagaService.of(db)
    finally:
        db.close()


def test_steps_run_in_order_and_their_outputs_are_returned(sqlite_url: str, server_url: str) -> None:
    async def main() -> None:
        local, remote = open_accounts(sqlite_url), open_accounts(server_url)
        try:
            outcome = await opening_saga(local, remote).execute_async({"name": "ann", "amount": 10})
            assert list(outcome.results) == ["open", "mirror", "bonus"]
            assert outcome.results["mirror"]["create"]["name"] == "ann"
            assert await balances(local, remote) == [{"ann": 10, "bonus": 1}, {"ann": 10}]
            status = await SagaService.of(local).status(outcome.saga_id)
            assert status["state"] == "completed"
            assert status["steps"] == {"open": "done", "mirror": "done", "bonus": "done"}
        finally:
            await local.close_async()
            await remote.close_async()

    run(main())


def test_a_failed_step_compensates_the_completed_ones_in_reverse_order(sqlite_url: str, server_url: str) -> None:
    async def main() -> None:
        local, remote = open_accounts(sqlite_url), open_accounts(server_url)
        journal: list[str] = []
        try:
            saga = opening_saga(local, remote, journal=journal, fail_bonus=True)
            with pytest.raises(SagaError) as caught:
                await saga.execute_async({"name": "ann", "amount": 10}, key="order-1")
            assert caught.value.step == "bonus"
            assert caught.value.compensated == ("mirror", "open")
            assert journal == ["mirror", "open"]
            assert await balances(local, remote) == [{}, {}]
            status = await SagaService.of(local).status("order-1")
            assert status["state"] == "compensated"
            assert status["steps"] == {"open": "compensated", "mirror": "compensated", "bonus": "failed"}
            with pytest.raises(SagaError, match="failed earlier and was compensated"):
                await saga.execute_async({"name": "ann", "amount": 10}, key="order-1")
        finally:
            await local.close_async()
            await remote.close_async()

    run(main())


def test_an_idempotency_key_returns_the_first_outcome_without_running_again(sqlite_url: str, server_url: str) -> None:
    async def main() -> None:
        local, remote = open_accounts(sqlite_url), open_accounts(server_url)
        try:
            saga = opening_saga(local, remote)
            first = await saga.execute_async({"name": "ann", "amount": 10}, key="same")
            second = await saga.execute_async({"name": "ann", "amount": 10}, key="same")
            assert not first.replayed and second.replayed
            assert second.results == first.results
            assert await balances(local, remote) == [{"ann": 10, "bonus": 1}, {"ann": 10}]
        finally:
            await local.close_async()
            await remote.close_async()

    run(main())


def test_work_run_once_under_a_key_commits_once(any_url: str) -> None:
    async def main() -> None:
        db = open_accounts(any_url)
        try:
            workflow = create_account(db, "ann", 5).build()
            first, replayed_first = await run_once(db, "k1", workflow)
            second, replayed_second = await run_once(db, "k1", workflow)
            assert (replayed_first, replayed_second) == (False, True)
            assert second == first
            assert await accounts(db) == {"ann": 5}
        finally:
            await db.close_async()

    run(main())


def crash_saga(local_url: str, remote_url: str, pause: str, forward: bool = False) -> None:
    child = start_script(
        "crash_saga.py", json.dumps({"local": local_url, "remote": remote_url, "pause": pause, "forward": forward})
    )
    wait_for_line(child, pause)
    kill(child)


async def recover(local: DataFlow, remote: DataFlow, forward_recoverable: bool = False) -> SagaRecoveryReport:
    opening_saga(local, remote, forward_recoverable=forward_recoverable)  # the recovering process defines the same saga
    report: SagaRecoveryReport = await SagaService.of(local).recover(older_than=0)
    return report


@pytest.mark.parametrize("pause", ["between", "inside"])
def test_a_saga_whose_process_was_killed_is_compensated_by_recovery(sqlite_url: str, pg_url: str, pause: str) -> None:
    crash_saga(sqlite_url, pg_url, pause)

    async def main() -> None:
        local, remote = open_accounts(sqlite_url), open_accounts(pg_url)
        try:
            assert await accounts(local) == {"ann": 10}
            report = await recover(local, remote)
            assert report.compensated == ["crash-1"] and report.clean
            assert await balances(local, remote) == [{}, {}]
            status = await SagaService.of(local).status("crash-1")
            assert status["state"] == "compensated"
            # Inside: the mirror step never committed (the server rolled it back), so only open is undone.
            expected_mirror = "compensated" if pause == "between" else "started"
            assert status["steps"]["mirror"] == expected_mirror
            again = await SagaService.of(local).recover(older_than=0)
            assert again.compensated == [] and again.clean
        finally:
            await local.close_async()
            await remote.close_async()

    run(main())


def test_a_forward_recoverable_saga_is_completed_by_recovery(sqlite_url: str, mysql_url: str) -> None:
    crash_saga(sqlite_url, mysql_url, "between", forward=True)

    async def main() -> None:
        local, remote = open_accounts(sqlite_url), open_accounts(mysql_url)
        try:
            report = await recover(local, remote, forward_recoverable=True)
            assert report.completed == ["crash-1"] and report.clean
            assert await balances(local, remote) == [{"ann": 10, "bonus": 1}, {"ann": 10}]
        finally:
            await local.close_async()
            await remote.close_async()

    run(main())


def test_recovery_leaves_recent_sagas_and_reports_unknown_ones(sqlite_url: str, pg_url: str) -> None:
    crash_saga(sqlite_url, pg_url, "between")

    async def main() -> None:
        local, remote = open_accounts(sqlite_url), open_accounts(pg_url)
        try:
            unknown = await SagaService.of(local).recover(older_than=0)
            assert unknown.unknown == ["crash-1"]
            opening_saga(local, remote)
            recent = await SagaService.of(local).recover(older_than=3600)
            assert list(recent.left) == ["crash-1"]
            assert (await SagaService.of(local).recover(older_than=0)).compensated == ["crash-1"]
        finally:
            await local.close_async()
            await remote.close_async()

    run(main())


def test_the_saga_runs_as_a_workflow_node(sqlite_url: str, server_url: str) -> None:
    async def main() -> None:
        local, remote = open_accounts(sqlite_url), open_accounts(server_url)
        try:
            saga = opening_saga(local, remote)
            workflow = WorkflowBuilder()
            workflow.add_node(saga.node(), "open", {"input": {"name": "ann", "amount": 3}, "key": "node-1"})
            workflow.add_node("SagaNode", "again", {"saga": saga, "input": {"name": "ann", "amount": 3}})
            workflow.add_connection("open", "saga_id", "again", "key")
            results, _ = await AsyncLocalRuntime().execute_async(workflow)
            assert results["open"]["pattern"] == "saga" and results["open"]["saga_id"] == "node-1"
            assert results["again"]["replayed"] is True
            assert await balances(local, remote) == [{"ann": 3, "bonus": 1}, {"ann": 3}]
        finally:
            await local.close_async()
            await remote.close_async()

    run(main())


def test_a_step_without_compensation_must_be_the_last(sqlite_url: str) -> None:
    db = open_accounts(sqlite_url)
    try:
        saga = Saga("broken", log=db).step("first", db, db.nodes["AccountCreateNode"])
        with pytest.raises(WorkflowBuildError, match="has no compensation, so no step may follow it"):
            saga.step("second", db, db.nodes["AccountCreateNode"])
    finally:
        db.close()


def test_the_recover_command_finishes_the_sagas_an_app_defines(sqlite_url: str, pg_url: str, tmp_path: Path) -> None:
    crash_saga(sqlite_url, pg_url, "between")
    (tmp_path / "saga_app.py").write_text(
        "import os\n"
        "from saga_helpers import opening_saga\n"
        "from txn_helpers import open_accounts\n"
        "local = open_accounts(os.environ['LOCAL_URL'])\n"
        "opening_saga(local, open_accounts(os.environ['REMOTE_URL']))\n"
    )
    environment = {
        **os.environ,
        "LOCAL_URL": sqlite_url,
        "REMOTE_URL": pg_url,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(HERE)]),
    }
    command = [sys.executable, "-c", "from dataflow.cli import run; run()", "txn", "recover", "--app", "saga_app"]
    done = subprocess.run([*command, "--older-than", "0", "--json"], check=False, capture_output=True, text=True,
                          env=environment, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["sagas"]
    assert [result["compensated"] for result in report.values()] == [["crash-1"]]

    async def main() -> list[dict[str, int]]:
        local, remote = open_accounts(sqlite_url), open_accounts(pg_url)
        try:
            return await balances(local, remote)
        finally:
            await local.close_async()
            await remote.close_async()

    assert run(main()) == [{}, {}]
