"""DataFlow programs run as a user runs them: a fresh process that must succeed and print nothing on stderr.

For the exit tests every dialect has: a script that never calls ``db.close()``
(``UNCLOSED_SCRIPT``, given the database URL as its argument) and the
``dataflow`` command must leave without an ``Exception ignored`` line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

DATAFLOW_CLI = str(Path(sys.executable).with_name("dataflow"))
"""The ``dataflow`` command of the running interpreter's environment."""

UNCLOSED_SCRIPT = textwrap.dedent(
    """
    import sys
    from dataflow import DataFlow
    from dataflow.testing.helpers import define_people, run_node

    db = DataFlow(sys.argv[1])
    define_people(db)
    run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    print(run_node(db, "UserCountNode", {})["count"])
    # no db.close(): the pools close at exit
    """
)


def quiet_run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a process; it must succeed with nothing on stderr. Return its stdout."""
    result = subprocess.run(
        list(args), check=False, capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout
