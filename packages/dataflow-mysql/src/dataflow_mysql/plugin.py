"""dataflow-mysql's plugin module, named in the ``dataflow`` entry-point group.

Nothing here imports aiomysql: the dialect module does, when DataFlow asks
for it (a ``mysql://`` or ``mariadb://`` URL). Its bulk strategies come with
the dialect (``MySQLDialect.bulk_strategies``).
"""

from __future__ import annotations

from dataflow import hookimpl
from dataflow.registers import DialectRegister


@hookimpl
def dataflow_register_dialects(register: DialectRegister) -> None:
    from .dialect import MySQLDialect  # noqa: PLC0415 - a plugin module loads its dialect only when the hook runs

    register(MySQLDialect)
