"""dataflow-postgres: the PostgreSQL dialect for DataFlow, on asyncpg."""

from .dialect import PostgresDialect

__all__ = ["PostgresDialect"]
