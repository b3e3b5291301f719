"""Session state through PgBouncer in transaction mode: what holds, what does not, and what DataFlow refuses.

In transaction pooling, PgBouncer gives each transaction (each statement,
outside one) whichever server session is free. A setting made with
``set_config(..., false)`` stays on that server session and reaches the next
client there; one made with ``set_config(..., true)`` (``SET LOCAL``) inside a
transaction holds for exactly that transaction. Schema-per-tenant tenancy
sets its search path per session, so with ``pgbouncer=true`` it refuses to
run rather than let tenants cross; the URL's ``schema`` (a ``search_path``
startup parameter, which PgBouncer does not pass) is refused too.
Row-level security sets its tenant per transaction there
(``test_pgbouncer_rls.py``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncpg
import pytest

from dataflow import ConfigError, ConnectionError, DataFlow
from dataflow.testing.replication import PgBouncer

sys.path.insert(0, str(Path(__file__).parents[2] / "dataflow-tenancy" / "tests"))
from tenancy_helpers import arun, customers, define_models, fails, run

from dataflow_tenancy import provision_tenant, tenant_connection

SETTING = "SELECT current_setting('dataflow.tenant', true)"


async def _connect(bouncer: PgBouncer, database: str) -> asyncpg.Connection:
    return await asyncpg.connect(bouncer.url(database), statement_cache_size=0)


def test_a_session_setting_made_outside_a_transaction_reaches_another_client(
    pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    async def scenario() -> list[str | None]:
        setter, other = await _connect(pgbouncer, bouncer_database), await _connect(pgbouncer, bouncer_database)
        try:
            await setter.execute("SELECT set_config('dataflow.tenant', 'acme', false)")
            # The server session that took the setting is free again: the other client's statements land there.
            seen = [await other.fetchval(SETTING) for _ in range(5)]
            await setter.execute("RESET dataflow.tenant")
            return seen
        finally:
            await setter.close()
            await other.close()

    assert "acme" in asyncio.run(scenario())  # a client that never set it runs under acme's setting


def test_a_transaction_local_setting_holds_for_its_transaction_only(
    pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    async def scenario() -> tuple[list[str | None], list[str | None], str | None]:
        inside, other = await _connect(pgbouncer, bouncer_database), await _connect(pgbouncer, bouncer_database)
        try:
            async with inside.transaction():
                await inside.execute("SELECT set_config('dataflow.tenant', 'acme', true)")
                mine = [await inside.fetchval(SETTING) for _ in range(5)]
                theirs = [await other.fetchval(SETTING) for _ in range(5)]
            after = await other.fetchval(SETTING)
            return mine, theirs, after
        finally:
            await inside.close()
            await other.close()

    mine, theirs, after = asyncio.run(scenario())
    assert mine == ["acme"] * 5
    assert "acme" not in theirs and after in (None, "")


def test_tenant_connection_keeps_its_tenant_for_its_transaction_through_pgbouncer(
    pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    db = DataFlow(pgbouncer.url(bouncer_database, "pgbouncer=true"), env="test")
    define_models(db)

    async def scenario() -> tuple[list[str], str | None]:
        other = await _connect(pgbouncer, bouncer_database)
        try:
            async with tenant_connection(db, "acme") as connection:
                seen = [str((await connection.fetch(SETTING))[0][0]) for _ in range(5)]
            return seen, await other.fetchval(SETTING)
        finally:
            await other.close()
            await db.close_async()

    seen, afterwards = asyncio.run(scenario())
    assert seen == ["acme"] * 5
    assert afterwards in (None, "")


def test_row_level_tenancy_without_policies_needs_no_session_state_and_works_through_pgbouncer(
    pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    db = DataFlow(pgbouncer.url(bouncer_database, "pgbouncer=true"), env="test")
    define_models(db)
    try:
        run(db, "CustomerBulkCreateNode", {"data": customers(2, "a")}, tenant="acme")
        run(db, "CustomerBulkCreateNode", {"data": customers(3, "g")}, tenant="globex")
        assert run(db, "CustomerCountNode", {}, tenant="acme")["count"] == 2
        assert run(db, "CustomerCountNode", {}, tenant="globex")["count"] == 3
    finally:
        db.close()


def test_schema_per_tenant_is_refused_with_pgbouncer_mode(pgbouncer: PgBouncer, bouncer_database: str) -> None:
    db = DataFlow(pgbouncer.url(bouncer_database, "pgbouncer=true"), env="test")

    @db.model
    class Ledger:
        title: str
        __dataflow__ = {"multi_tenant": "schema"}

    try:
        with pytest.raises(ConfigError, match="pgbouncer=true") as info:
            arun(lambda: provision_tenant(db, "acme"))
        assert info.value.field == "pgbouncer"
        cause = fails(db, "LedgerCountNode", {}, tenant="acme")
        assert isinstance(cause, ConfigError) and cause.field == "pgbouncer"
    finally:
        db.close()


def test_the_schema_option_without_pgbouncer_mode_fails_to_connect_through_pgbouncer(
    pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    db = DataFlow(pgbouncer.url(bouncer_database, "schema=app"), env="test")
    define_models(db)
    try:
        with pytest.raises(ConnectionError, match="search_path"):
            db.express_sync.count("Note")
    finally:
        db.close()
