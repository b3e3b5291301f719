"""PostgreSQL row-level security: even raw SQL through the pool cannot cross tenants by accident.

The policies bind ordinary roles only (superusers bypass them), so these
tests connect as a login role of their own, which owns the tables: FORCE
ROW LEVEL SECURITY holds owners to the policies too.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tenancy_helpers import arun, customers, define_models, everything, open_db, run

from dataflow import DataFlow
from dataflow.testing.servers import fresh_database
from dataflow.url import DatabaseURL
from dataflow_tenancy import install_row_level_security, purge_tenant, remove_row_level_security, tenant_connection


async def _admin(url: str, *statements: str) -> None:
    parsed = DatabaseURL.parse(url)
    connection = await asyncpg.connect(url.split("?", 1)[0])
    try:
        schema = parsed.options.get("schema")
        for statement in statements:
            await connection.execute(statement.format(schema=f'"{schema}"'))
    finally:
        await connection.close()


@pytest.fixture
def postgres_url(request: Any, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database("postgres", request, tmp_path)


@pytest.fixture
def db(postgres_url: str) -> Iterator[DataFlow]:
    """The test models on a connection as an ordinary role, with the policies installed."""
    role = f"dftn_{secrets.token_hex(4)}"
    asyncio.run(
        _admin(postgres_url, f'CREATE ROLE "{role}" LOGIN', f'GRANT USAGE, CREATE ON SCHEMA {{schema}} TO "{role}"')
    )
    parsed = DatabaseURL.parse(postgres_url)
    app_url = DatabaseURL(
        scheme=parsed.scheme, username=role, host=parsed.host, port=parsed.port, database=parsed.database,
        query=parsed.query,
    ).render(hide_password=False)  # fmt: skip
    instance = open_db(app_url, pool_size=2)
    define_models(instance)
    try:
        arun(lambda: install_row_level_security(instance))
        yield instance
    finally:
        instance.close()
        asyncio.run(_admin(postgres_url, f'DROP OWNED BY "{role}" CASCADE', f'DROP ROLE "{role}"'))


def raw(db: DataFlow, sql: str, *params: Any) -> list[Any]:
    """``sql`` on a pooled connection, as raw SQL would run: no tenant set."""

    async def go() -> list[Any]:
        pool = await db.pool()
        connection = await pool.acquire()
        try:
            return list(await connection.fetch(sql, params))
        finally:
            await pool.release(connection)

    return arun(go)


def seed(db: DataFlow) -> None:
    # PostgreSQL refuses COPY into a table with row-level security: force the unnest strategy.
    run(db, "CustomerBulkCreateNode", {"data": customers(2, "a"), "strategy": "unnest"}, tenant="acme")
    run(db, "CustomerBulkCreateNode", {"data": customers(3, "g"), "strategy": "unnest"}, tenant="globex")


def test_bulk_create_with_the_default_strategy_works_under_the_policies(db: DataFlow) -> None:
    # PostgreSQL refuses COPY FROM under the policies: the copy strategy falls back to unnest.
    assert run(db, "CustomerBulkCreateNode", {"data": customers(2, "a")}, tenant="acme") == {"inserted": 2}
    assert run(db, "CustomerBulkCreateNode", {"data": customers(3, "g")}, tenant="globex") == {"inserted": 3}
    assert run(db, "CustomerCountNode", {}, tenant="acme") == {"count": 2}
    assert sorted(r["tenant_id"] for r in everything(db, "Customer")) == ["acme", "acme", "globex", "globex", "globex"]


def test_nodes_work_per_tenant_under_the_policies(db: DataFlow) -> None:
    seed(db)
    assert run(db, "CustomerCountNode", {}, tenant="acme") == {"count": 2}
    assert run(db, "CustomerCountNode", {}, tenant="globex") == {"count": 3}
    assert len(everything(db, "Customer")) == 5  # the admin scope sets dataflow.tenant_admin


def test_raw_sql_without_a_tenant_sees_and_writes_nothing(db: DataFlow) -> None:
    seed(db)
    assert raw(db, 'SELECT count(*) FROM "customer"')[0][0] == 0
    assert raw(db, 'UPDATE "customer" SET "score" = 99 RETURNING 1') == []
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        raw(db, "INSERT INTO \"customer\" (name, email, score, tenant_id) VALUES ('x', 'x', 0, 'acme')")
    assert sorted(r["score"] for r in everything(db, "Customer")) == [0, 0, 1, 1, 2]


def test_a_pooled_connection_is_reset_after_a_run(db: DataFlow) -> None:
    seed(db)
    run(db, "CustomerCountNode", {}, tenant="acme")
    run(db, "CustomerCountNode", {}, tenant="acme")
    for _ in range(2):  # both connections of the pool
        assert raw(db, "SELECT coalesce(current_setting('dataflow.tenant', true), '')")[0][0] == ""
        assert raw(db, 'SELECT count(*) FROM "customer"')[0][0] == 0


def test_tenant_connection_scopes_raw_sql_to_one_tenant(db: DataFlow) -> None:
    seed(db)

    async def as_acme() -> list[Any]:
        async with tenant_connection(db, "acme") as connection:
            return list(await connection.fetch('SELECT "tenant_id" FROM "customer"'))

    assert [r[0] for r in arun(as_acme)] == ["acme", "acme"]

    async def write_for_globex() -> None:
        async with tenant_connection(db, "acme") as connection:
            await connection.execute(
                "INSERT INTO \"customer\" (name, email, score, tenant_id) VALUES ('x', 'x', 0, 'globex')"
            )

    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        arun(write_for_globex)
    assert run(db, "CustomerCountNode", {}, tenant="globex") == {"count": 3}


def test_removing_the_policies_opens_raw_sql_again(db: DataFlow) -> None:
    seed(db)
    arun(lambda: remove_row_level_security(db))
    assert raw(db, 'SELECT count(*) FROM "customer"')[0][0] == 5
    assert run(db, "CustomerCountNode", {}, tenant="acme") == {"count": 2}


def test_purge_reaches_through_the_policies(db: DataFlow) -> None:
    seed(db)
    arun(lambda: purge_tenant(db, "acme"))
    assert {r["tenant_id"] for r in everything(db, "Customer")} == {"globex"}
    assert len(everything(db, "Customer")) == 3
