"""Running a Python script as a new user would: a fresh process, a scratch directory, no DataFlow settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_script(script: Path, *arguments: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with this interpreter in ``cwd``, without any ``DATAFLOW_*`` or ``DATABASE_URL`` variable."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATAFLOW_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, str(script), *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
