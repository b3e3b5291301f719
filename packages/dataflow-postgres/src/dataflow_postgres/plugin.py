"""dataflow-postgres's plugin module, named in the ``dataflow`` entry-point group.

Nothing here imports asyncpg: the dialect imports it when it creates a pool.
"""

from __future__ import annotations

from typing import Any

from dataflow import hookimpl


@hookimpl
def dataflow_register_dialects(register: Any) -> None:
    from .dialect import PostgresDialect

    register(PostgresDialect)


@hookimpl
def dataflow_register_bulk_strategies(register: Any) -> None:
    from .bulk import STRATEGIES

    for strategy in STRATEGIES:
        register(strategy)
