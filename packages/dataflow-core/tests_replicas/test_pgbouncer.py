"""PgBouncer in transaction pooling mode: what fails without ``pgbouncer=true``, and that it holds with it.

The compliance suite through PgBouncer is in ``test_pgbouncer_compliance.py``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

import pytest

from dataflow import ConfigError, DataFlow, DataFlowError
from dataflow.testing.replication import PgBouncer, PostgresPair
from dataflow_postgres.dialect import PostgresDialect


async def _load(url: str) -> list[DataFlowError]:
    """Six concurrent clients writing and reading, 40 times each (fewer met no error in 1 run of 6); the errors."""
    db = DataFlow(url, env="test")

    @db.model
    class Visit:
        page: str

    errors: list[DataFlowError] = []

    async def client(number: int) -> None:
        for i in range(40):
            try:
                await db.express.create("Visit", {"page": f"{number}/{i}"})
                await db.express.count("Visit", filter={"page": {"$like": f"{number}/%"}})
            except DataFlowError as exc:
                errors.append(exc)

    try:
        await asyncio.gather(*(client(n) for n in range(6)))
    finally:
        await db.close_async()
    return errors


def test_without_pgbouncer_mode_cached_prepared_statements_break(pgbouncer: PgBouncer, bouncer_database: str) -> None:
    errors = asyncio.run(_load(pgbouncer.url(bouncer_database, f"application_name=off_{secrets.token_hex(3)}")))
    assert errors, "PgBouncer in transaction mode handed every client the same server session"
    # Not asyncpg's bare 'prepared statement "__asyncpg_stmt_c__" does not exist': the option that fixes it.
    assert all(isinstance(error, ConfigError) and error.field == "pgbouncer" for error in errors), errors[:3]
    assert all("prepared statement" in str(error) and "add pgbouncer=true" in str(error) for error in errors)


def test_a_pooler_is_seen_at_the_first_connection_and_named_when_pgbouncer_mode_is_not_set(
    pg_pair: PostgresPair, pgbouncer: PgBouncer, bouncer_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def first_read(url: str) -> bool:
        db = DataFlow(url, env="test")
        try:
            await db.express.sql("SELECT 1", result="value")
            assert isinstance(db.dialect, PostgresDialect)
            return db.dialect.pooler_seen
        finally:
            await db.close_async()

    base = pg_pair.primary_url.rsplit("/", 1)[0]
    with caplog.at_level(logging.WARNING, logger="dataflow.postgres"):
        seen = [
            asyncio.run(first_read(pgbouncer.url(bouncer_database))),
            asyncio.run(first_read(pgbouncer.url(bouncer_database, "pgbouncer=true"))),
            asyncio.run(first_read(f"{base}/{bouncer_database}")),
        ]
    assert seen == [True, True, False]  # through PgBouncer, with the flag or not; not on the server itself
    warnings = [record.getMessage() for record in caplog.records if record.name == "dataflow.postgres"]
    assert len(warnings) == 1 and "add pgbouncer=true" in warnings[0]


def test_with_pgbouncer_mode_the_same_load_has_no_errors(pgbouncer: PgBouncer, bouncer_database: str) -> None:
    errors = asyncio.run(_load(pgbouncer.url(bouncer_database, "pgbouncer=true")))
    assert errors == []
