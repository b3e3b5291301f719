"""The core's own plugin: the generic bulk strategies, registered in code under the name ``core``.

:class:`~dataflow.plugins.PluginHost` registers this module itself, as tox and
llm register their built-in parts, so ``DATAFLOW_PLUGINS`` cannot leave it out.
"""

from __future__ import annotations

from .bulk.generic import GENERIC_STRATEGIES
from .plugins import hookimpl
from .registers import BulkStrategyRegister


@hookimpl
def dataflow_register_bulk_strategies(register: BulkStrategyRegister) -> None:
    for strategy in GENERIC_STRATEGIES:
        register(strategy)
