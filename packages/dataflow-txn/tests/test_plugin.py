"""The plugin: found through the entry point, hooks wired, the command registered."""

from __future__ import annotations

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
