"""The plan of a statement, captured on a connection of its own.

Monitor events carry SQL text, never parameter values, so a plan is made
without them: PostgreSQL prepares the statement and explains its generic
plan (``plan_cache_mode = force_generic_plan``, inside a transaction that is
rolled back); MySQL/MariaDB explains it with the string ``'0'`` for every
parameter (the server converts it to the column's type, so indexes still
apply; 1 for a LIMIT or OFFSET), SQLite with NULL (its plans do not depend
on values). ``EXPLAIN`` without ``ANALYZE`` never runs the statement.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Sequence
from typing import Any

EXPLAINABLE = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE)\b", re.IGNORECASE)
_PG_PARAMETER = re.compile(r"\$(\d+)")
_MYSQL_PARAMETER = re.compile(r"(\b(?:LIMIT|OFFSET)\s+)?%s", re.IGNORECASE)
_names = itertools.count(1)


class NotExplainable(Exception):
    """The statement is not one EXPLAIN takes (BEGIN, COPY, SAVEPOINT ...), or the dialect has no EXPLAIN."""


def explainable(sql: str) -> bool:
    return EXPLAINABLE.match(sql) is not None


async def explain(db: Any, sql: str, timeout: float) -> str:
    """The plan of ``sql`` on ``db``, as text; raises on any failure (callers log it)."""
    if not explainable(sql):
        raise NotExplainable(f"not a statement EXPLAIN takes: {sql[:40]!r}")
    dialect = db.dialect.name
    if dialect not in ("postgresql", "mysql", "sqlite"):
        raise NotExplainable(f"no EXPLAIN for the {dialect} dialect")
    async with asyncio.timeout(timeout):
        pool = await db.pool()
        connection = await pool.acquire()
        discard = True
        try:
            if dialect == "postgresql":
                rows = await _postgres(connection, sql)
            elif dialect == "mysql":
                rows = await connection.fetch("EXPLAIN " + sql, _mysql_parameters(sql))
            else:
                rows = await connection.fetch("EXPLAIN QUERY PLAN " + sql, [None] * sql.count("?"))
            discard = False
        finally:
            await pool.release(connection, discard=discard)
    return format_plan(dialect, rows)


async def _postgres(connection: Any, sql: str) -> list[Sequence[Any]]:
    name = f"dataflow_explain_{next(_names)}"
    count = max((int(n) for n in _PG_PARAMETER.findall(sql)), default=0)
    arguments = f"({', '.join(['NULL'] * count)})" if count else ""
    await connection.begin()
    prepared = False
    try:
        await connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await connection.execute(f"PREPARE {name} AS {sql}")
        prepared = True
        rows: list[Sequence[Any]] = await connection.fetch(f"EXPLAIN EXECUTE {name}{arguments}")
        return rows
    finally:
        await connection.rollback()
        if prepared:
            # A prepared statement outlives the transaction that made it.
            await connection.execute(f"DEALLOCATE {name}")


def _mysql_parameters(sql: str) -> list[Any]:
    return [1 if match.group(1) else "0" for match in _MYSQL_PARAMETER.finditer(sql)]


def format_plan(dialect: str, rows: Sequence[Sequence[Any]]) -> str:
    if dialect == "sqlite":
        return "\n".join(str(row[-1]) for row in rows)
    if dialect == "postgresql":
        return "\n".join(str(row[0]) for row in rows)
    return "\n".join(" | ".join("" if value is None else str(value) for value in row) for row in rows)
