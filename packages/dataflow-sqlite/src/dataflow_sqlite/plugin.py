"""dataflow-sqlite's plugin module, named in the ``dataflow`` entry-point group."""

from __future__ import annotations

from dataflow import hookimpl
from dataflow.registers import BulkStrategyRegister, DialectRegister


@hookimpl
def dataflow_register_dialects(register: DialectRegister) -> None:
    from .dialect import SQLiteDialect  # noqa: PLC0415 - a plugin module loads its dialect only when the hook runs

    register(SQLiteDialect)


@hookimpl
def dataflow_register_bulk_strategies(register: BulkStrategyRegister) -> None:
    from .bulk import STRATEGIES  # noqa: PLC0415 - a plugin module loads its strategies only when the hook runs

    for strategy in STRATEGIES:
        register(strategy)
