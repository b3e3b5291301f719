"""dataflow-mysql's plugin module, named in the ``dataflow`` entry-point group.

Nothing here imports aiomysql: the dialect module does, when DataFlow asks
for it (a ``mysql://`` or ``mariadb://`` URL).
"""

from __future__ import annotations

from dataflow import hookimpl
from dataflow.registers import BulkStrategyRegister, DialectRegister


@hookimpl
def dataflow_register_dialects(register: DialectRegister) -> None:
    from .dialect import MySQLDialect  # noqa: PLC0415 - a plugin module loads its dialect only when the hook runs

    register(MySQLDialect)


@hookimpl
def dataflow_register_bulk_strategies(register: BulkStrategyRegister) -> None:
    from .bulk import STRATEGIES  # noqa: PLC0415 - a plugin module loads its strategies only when the hook runs

    for strategy in STRATEGIES:
        register(strategy)
