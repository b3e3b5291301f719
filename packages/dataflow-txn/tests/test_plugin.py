"""The plugin: found through the entry point, hooks wired, the command registered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from dataflow.cli import build_cli
from dataflow.plugins import plugin_host
from dataflow.workflow.registry import plugin_node_types
from dataflow_txn import DistributedTransactionNode, SagaNode


def test_the_plugin_loads_through_the_dataflow_entry_point() -> None:
    info = {plugin.name: plugin for plugin in plugin_host().info()}
    assert info["txn"].distribution == "dataflow-txn"
    assert set(info["txn"].hooks) == {
        "dataflow_instance_created",
        "dataflow_register_commands",
        "dataflow_register_node_types",
    }


def test_the_node_types_are_registered_by_name() -> None:
    types = plugin_node_types()
    assert types["DistributedTransactionNode"] is DistributedTransactionNode
    assert types["SagaNode"] is SagaNode


def test_the_txn_recover_command_is_registered() -> None:
    result = CliRunner().invoke(build_cli(), ["txn", "recover", "--help"])
    assert result.exit_code == 0, result.output
    assert "--coordinator" in result.output and "--app" in result.output


def test_recover_without_anything_to_recover_says_so() -> None:
    result = CliRunner().invoke(build_cli(), ["txn", "recover"])
    assert result.exit_code == 0, result.output
    assert "nothing to recover" in result.output


def dataflow_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``dataflow ARGS`` as the installed script runs it: ``-P`` keeps the working directory off the path."""
    command = [sys.executable, "-P", "-c", "from dataflow.cli import run; run()", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAFLOW_")}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_recover_imports_the_app_module_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "recovery_app.py").write_text("from pathlib import Path\n\nPath('imported').write_text('yes')\n")
    result = dataflow_script("txn", "recover", "--app", "recovery_app", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "imported").read_text() == "yes" and "nothing to recover" in result.stdout


def test_recover_with_an_app_module_that_is_not_there_says_so_in_one_line(tmp_path: Path) -> None:
    result = dataflow_script("txn", "recover", "--app", "no_such_recovery_app", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"Error: --app 'no_such_recovery_app': cannot import 'no_such_recovery_app': there is no module "
        f"'no_such_recovery_app' in the working directory ({tmp_path}) or on the Python path"
    ]
