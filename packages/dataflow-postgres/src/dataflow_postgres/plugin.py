"""dataflow-postgres's plugin module, named in the ``dataflow`` entry-point group.

Nothing here imports asyncpg: the dialect imports it when it creates a pool.
Its bulk strategies come with the dialect (``PostgresDialect.bulk_strategies``).
"""

from __future__ import annotations

from dataflow import hookimpl
from dataflow.registers import DialectRegister


@hookimpl
def dataflow_register_dialects(register: DialectRegister) -> None:
    from .dialect import PostgresDialect  # noqa: PLC0415 - a plugin module loads its dialect only when the hook runs

    register(PostgresDialect)
