"""``echo=True`` prints statements (never values) to stderr by itself, as SQLAlchemy's does."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys
    from dataflow import DataFlow, LocalRuntime, WorkflowBuilder

    loud = DataFlow(f"sqlite:///{sys.argv[1]}/loud.db", echo=True)
    quiet = DataFlow(f"sqlite:///{sys.argv[1]}/quiet.db")

    @loud.model
    class Patient:
        name: str

    @quiet.model
    class Doctor:
        name: str

    for db, node in ((loud, "PatientCreateNode"), (quiet, "DoctorCreateNode")):
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes[node], "create", {"name": "SSN-123-45-6789"})
        LocalRuntime().execute(workflow)
        db.close()
    """
)


def _run(tmp_path: Path, *setup: str) -> subprocess.CompletedProcess[str]:
    script = "\n".join(setup) + SCRIPT
    return subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120, check=True
    )


def test_echo_writes_statements_to_stderr_without_any_logging_setup(tmp_path: Path) -> None:
    stderr = _run(tmp_path).stderr
    assert 'INSERT INTO "patient"' in stderr, stderr
    assert "dataflow.sql" in stderr
    assert "SSN-123" not in stderr
    assert '"doctor"' not in stderr  # the instance without echo says nothing


def test_with_logging_configured_echo_goes_through_it_once(tmp_path: Path) -> None:
    stderr = _run(tmp_path, "import logging", "logging.basicConfig(format='configured: %(message)s')").stderr
    lines = [line for line in stderr.splitlines() if 'INSERT INTO "patient"' in line]
    assert len(lines) == 1 and lines[0].startswith("configured: "), stderr
    assert "SSN-123" not in stderr
