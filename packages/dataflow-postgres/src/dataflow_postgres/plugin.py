"""dataflow-postgres's plugin module, named in the ``dataflow`` entry-point group.

Nothing here imports asyncpg: the dialect imports it when it creates a pool.
"""

from __future__ import annotations

from dataflow import hookimpl
from dataflow.registers import BulkStrategyRegister, DialectRegister


@hookimpl
def dataflow_register_dialects(register: DialectRegister) -> None:
    from .dialect import PostgresDialect  # noqa: PLC0415 - a plugin module loads its dialect only when the hook runs

    register(PostgresDialect)


@hookimpl
def dataflow_register_bulk_strategies(register: BulkStrategyRegister) -> None:
    from .bulk import STRATEGIES  # noqa: PLC0415 - a plugin module loads its strategies only when the hook runs

    for strategy in STRATEGIES:
        register(strategy)
