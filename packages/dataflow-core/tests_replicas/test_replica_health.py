"""``dataflow doctor`` and the monitor's health check list every replica with its lag, and a down one."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

from dataflow import DataFlow
from dataflow.testing.processes import DATAFLOW_CLI
from dataflow.testing.replication import free_port
from dataflow_monitor import HealthCheck


def test_doctor_lists_each_replica_with_its_lag(replicated: tuple[str, str, Any]) -> None:
    primary, replica, _ = replicated
    joiner = "&" if "?" in primary else "?"
    result = subprocess.run(
        [DATAFLOW_CLI, "doctor", "--json", "--database-url", f"{primary}{joiner}replica={replica.split('?')[0]}"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    report = json.loads(result.stdout)
    [status] = report["replicas"]
    assert status["status"] == "ok", report
    assert status["lag"] is not None and status["lag"] >= 0
    assert result.returncode == 0, report


def test_health_reports_a_down_replica_as_a_problem_and_the_others_with_lag(replicated: tuple[str, str, Any]) -> None:
    primary, replica, _ = replicated
    scheme = primary.split("://")[0]
    down = f"{scheme}://root@127.0.0.1:{free_port()}/nothing"

    async def body() -> Any:
        db = DataFlow(primary, env="test", replicas=[replica, down], connect_timeout=2)
        try:
            return await HealthCheck.of(db)()
        finally:
            await db.close_async()

    report = asyncio.run(body())
    up, gone = report.replicas
    assert up["status"] == "ok" and up["lag"] is not None
    assert gone["status"] == "down" and gone["error"]
    assert report.status == "degraded"
    assert any("is down" in problem for problem in report.problems)
