"""The core's own plugin: the generic bulk strategies, registered like any other plugin's."""

from __future__ import annotations

from typing import Any

from .bulk.generic import GENERIC_STRATEGIES
from .plugins import hookimpl
from .workflow.sql_node import SQLNode


@hookimpl
def dataflow_register_bulk_strategies(register: Any) -> None:
    for strategy in GENERIC_STRATEGIES:
        register(strategy)


@hookimpl
def dataflow_register_node_types(register: Any) -> None:
    register("SQLNode", SQLNode)
