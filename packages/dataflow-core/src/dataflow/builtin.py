"""The core's own plugin: the generic bulk strategies and SQLNode, registered in code under the name ``core``.

:class:`~dataflow.plugins.PluginHost` registers this module itself, as tox and
llm register their built-in parts, so ``DATAFLOW_PLUGINS`` cannot leave it out.
"""

from __future__ import annotations

from .bulk.generic import GENERIC_STRATEGIES
from .plugins import hookimpl
from .registers import BulkStrategyRegister, NodeTypeRegister
from .workflow.sql_node import SQLNode


@hookimpl
def dataflow_register_bulk_strategies(register: BulkStrategyRegister) -> None:
    for strategy in GENERIC_STRATEGIES:
        register(strategy)


@hookimpl
def dataflow_register_node_types(register: NodeTypeRegister) -> None:
    register("SQLNode", SQLNode)
