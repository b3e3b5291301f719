"""Coordinator crashes, with real processes: the child is SIGKILLed at a phase, recovery runs here."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

from txn_helpers import HERE, accounts, kill, open_accounts, our_prepared, run, start_script, wait_for_line

from dataflow_txn import RecoveryReport, TwoPhaseCoordinator


def crash_at(phase: str, pg_url: str, mysql_url: str, name: str) -> None:
    """Run the 2PC in a child process and SIGKILL it once it reports ``phase``."""
    config = {"pg": pg_url, "mysql": mysql_url, "name": name, "stop_at": phase}
    child = start_script("crash_coordinator.py", json.dumps(config))
    wait_for_line(child, phase)
    kill(child)


async def recover_until_clean(coordinator: TwoPhaseCoordinator, timeout: float = 20.0) -> list[RecoveryReport]:
    """Recover until nothing is left in doubt (a killed client's XA branch detaches when the server notices)."""
    reports = []
    deadline = time.monotonic() + timeout
    while True:
        reports.append(await coordinator.recover(older_than=0))
        if reports[-1].clean or time.monotonic() > deadline:
            return reports
        await asyncio.sleep(0.2)


def branches(reports: list[RecoveryReport], field: str) -> list[str]:
    return sorted(branch.rsplit(".", 1)[1] for report in reports for branch in getattr(report, field))


def test_killed_after_the_commit_decision_recovery_commits_everywhere(
    pg_url: str, mysql_url: str, coordinator_name: str
) -> None:
    crash_at("decided", pg_url, mysql_url, coordinator_name)
    assert len(our_prepared("postgres", coordinator_name)) == 1
    assert len(our_prepared("mysql", coordinator_name)) == 1

    async def main() -> None:
        pg, my = open_accounts(pg_url), open_accounts(mysql_url)
        try:
            coordinator = TwoPhaseCoordinator(coordinator_name, log=pg, participants={"pg": pg, "my": my})
            reports = await recover_until_clean(coordinator)
            assert reports[-1].clean, reports
            assert branches(reports, "committed") == ["my", "pg"]
            assert branches(reports, "rolled_back") == []
            assert len(reports[-1].finished) == 1
            assert await accounts(pg) == {"ann": 10}
            assert await accounts(my) == {"bob": 20}
        finally:
            await pg.close_async()
            await my.close_async()

    run(main())
    assert our_prepared("postgres", coordinator_name) == []
    assert our_prepared("mysql", coordinator_name) == []


def test_killed_after_prepare_before_the_decision_recovery_rolls_back_everywhere(
    pg_url: str, mysql_url: str, coordinator_name: str
) -> None:
    crash_at("prepared", pg_url, mysql_url, coordinator_name)
    assert len(our_prepared("postgres", coordinator_name)) == 1
    assert len(our_prepared("mysql", coordinator_name)) == 1

    async def main() -> None:
        pg, my = open_accounts(pg_url), open_accounts(mysql_url)
        try:
            coordinator = TwoPhaseCoordinator(coordinator_name, log=pg, participants={"pg": pg, "my": my})
            reports = await recover_until_clean(coordinator)
            assert reports[-1].clean, reports
            assert branches(reports, "rolled_back") == ["my", "pg"]
            assert branches(reports, "committed") == []
            assert await accounts(pg) == {}
            assert await accounts(my) == {}
        finally:
            await pg.close_async()
            await my.close_async()

    run(main())
    assert our_prepared("postgres", coordinator_name) == []
    assert our_prepared("mysql", coordinator_name) == []


def test_the_recover_command_commits_what_a_killed_coordinator_decided(
    pg_url: str, mysql_url: str, coordinator_name: str
) -> None:
    crash_at("decided", pg_url, mysql_url, coordinator_name)
    command = [
        sys.executable, "-c", "from dataflow.cli import run; run()",
        "txn", "recover", "--coordinator", coordinator_name, "--log", pg_url,
        "--participant", f"pg={pg_url}", "--participant", "my=$STOCK_URL", "--older-than", "0", "--json",
    ]  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        environment = {**os.environ, "STOCK_URL": mysql_url}
        done = subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=60, env=environment, cwd=HERE
        )
        report = json.loads(done.stdout)["two_phase"][coordinator_name] if done.stdout.startswith("{") else None
        if done.returncode == 0 and report is not None and not report["left"]:
            break
        assert time.monotonic() < deadline, (done.returncode, done.stdout, done.stderr)
        time.sleep(0.2)
    assert our_prepared("postgres", coordinator_name) == []
    assert our_prepared("mysql", coordinator_name) == []

    async def main() -> tuple[dict[str, int], dict[str, int]]:
        pg, my = open_accounts(pg_url), open_accounts(mysql_url)
        try:
            return await accounts(pg), await accounts(my)
        finally:
            await pg.close_async()
            await my.close_async()

    assert run(main()) == ({"ann": 10}, {"bob": 20})
