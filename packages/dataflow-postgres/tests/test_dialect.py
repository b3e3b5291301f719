"""URLs, options and capabilities of the PostgreSQL dialect."""

from __future__ import annotations

import asyncio

import pytest
from pg_testing import fetch, run_node

from dataflow import ConfigError, ConnectionError, DataFlow, WorkflowError
from dataflow_postgres import PostgresDialect


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:5432/test",
        "postgres://postgres@127.0.0.1:5432/test",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    ],
)
def test_every_postgres_scheme_selects_the_dialect(url: str) -> None:
    db = DataFlow(url)
    assert isinstance(db.dialect, PostgresDialect)
    db.close()


def test_another_driver_is_refused() -> None:
    with pytest.raises(ConfigError, match="asyncpg"):
        DataFlow("postgresql+psycopg://postgres@127.0.0.1/test")


def test_unknown_option_names_the_nearest_one() -> None:
    with pytest.raises(ConfigError, match="'pool_size'") as info:
        DataFlow("postgresql://postgres@127.0.0.1/test?pool_sise=5")
    assert info.value.field == "pool_sise"


@pytest.mark.parametrize(
    "query",
    ["pool_size=0", "pool_size=many", "connect_timeout=-1", "sslmode=sometimes", "pgbouncer=maybe", "schema="],
)
def test_invalid_option_values_are_config_errors(query: str) -> None:
    with pytest.raises(ConfigError):
        DataFlow(f"postgresql://postgres@127.0.0.1/test?{query}")


def test_url_options_win_over_settings() -> None:
    db = DataFlow(
        "postgresql://postgres@127.0.0.1/test?pool_size=3&pool_timeout=2&command_timeout=4&sslmode=disable",
        pool_size=20,
    )
    assert isinstance(db.dialect, PostgresDialect)
    options = db.dialect.options
    assert (options.pool_size, options.pool_timeout) == (3, 2.0)
    assert (options.command_timeout, options.sslmode) == (4.0, "disable")
    db.close()


def test_pgbouncer_mode_turns_off_the_statement_cache() -> None:
    db = DataFlow("postgresql://postgres@127.0.0.1/test?pgbouncer=true")
    assert isinstance(db.dialect, PostgresDialect) and db.dialect.options.statement_cache_size == 0
    db.close()


def test_pgbouncer_mode_says_sessions_keep_no_settings() -> None:
    behind = DataFlow("postgresql://postgres@127.0.0.1/test?pgbouncer=true")
    direct = DataFlow("postgresql://postgres@127.0.0.1/test")
    assert not behind.dialect.capabilities.session_settings and direct.dialect.capabilities.session_settings
    behind.close()
    direct.close()


def test_the_schema_option_with_pgbouncer_mode_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match="PgBouncer passes no search_path") as info:
        DataFlow("postgresql://postgres@127.0.0.1/test?pgbouncer=true&schema=app")
    assert info.value.field == "schema"


def test_password_is_never_shown() -> None:
    db = DataFlow("postgresql://postgres:s3cret-pw@127.0.0.1:1/test?connect_timeout=2")
    assert "s3cret-pw" not in repr(db) and "s3cret-pw" not in repr(db.config) and "s3cret-pw" not in db.label

    @db.model
    class Thing:
        name: str

    with pytest.raises(WorkflowError) as info:
        run_node(db, "ThingCountNode")
    assert isinstance(info.value.cause, ConnectionError)
    assert "s3cret-pw" not in str(info.value) and "s3cret-pw" not in str(info.value.cause)
    assert "127.0.0.1:1" in str(info.value.cause)
    db.close()


def test_unreachable_server_is_a_connection_error_on_first_use() -> None:
    async def main() -> None:
        db = DataFlow("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")
        try:
            with pytest.raises(ConnectionError, match="cannot connect"):
                await db.pool()
        finally:
            await db.close_async()

    asyncio.run(main())


def test_identifiers_over_63_bytes_are_refused_at_model_definition() -> None:
    db = DataFlow("postgresql://postgres@127.0.0.1/test")
    with pytest.raises(ConfigError, match="63"):

        @db.model
        class Thing:
            __dataflow__ = {"table": "t" * 64}
            name: str

    db.close()


def test_schema_option_puts_tables_in_that_schema(dataflow_database_url: str, pg_schema: str) -> None:
    db = DataFlow(dataflow_database_url)

    @db.model
    class Thing:
        name: str

    run_node(db, "ThingCreateNode", {"name": "a"})
    db.close()
    rows = fetch(dataflow_database_url, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'thing'")
    assert [row[0] for row in rows] == [pg_schema]


def test_application_name_reaches_the_server(dataflow_database_url: str, pg_schema: str) -> None:
    async def main() -> str:
        db = DataFlow(dataflow_database_url)
        try:
            session = await db.open_session()
            try:
                rows = await session.fetch("SELECT current_setting('application_name')")
            finally:
                await db.close_session(session)
            return str(rows[0][0])
        finally:
            await db.close_async()

    assert asyncio.run(main()) == f"dftest_{pg_schema}"


def test_statements_run_without_a_statement_cache_as_pgbouncer_mode_sets(dataflow_database_url: str) -> None:
    # What pgbouncer=true sets, on this test's own schema (pgbouncer=true itself refuses schema=,
    # which PgBouncer does not pass; the suite runs through a real PgBouncer in tests_replicas).
    db = DataFlow(dataflow_database_url + "&statement_cache_size=0")

    @db.model
    class Thing:
        name: str

    ids = run_node(db, "ThingBulkCreateNode", {"data": [{"name": "a"}, {"name": "b"}], "return_ids": True})["ids"]
    assert run_node(db, "ThingReadNode", {"id": ids[1]})["name"] == "b"
    assert run_node(db, "ThingCountNode") == {"count": 2}
    db.close()


def test_capabilities_follow_the_server(dataflow_database_url: str) -> None:
    async def main() -> tuple[bool, int]:
        db = DataFlow(dataflow_database_url)
        try:
            await db.pool()
            session = await db.open_session()
            try:
                rows = await session.fetch("SELECT current_setting('max_prepared_transactions')::int")
            finally:
                await db.close_session(session)
            return db.dialect.capabilities.two_phase, int(rows[0][0])
        finally:
            await db.close_async()

    two_phase, prepared = asyncio.run(main())
    assert two_phase is (prepared > 0)


def test_declared_capabilities() -> None:
    capabilities = DataFlow("postgresql://postgres@127.0.0.1/test").dialect.capabilities
    assert capabilities.returning == {"insert", "update", "delete"}
    assert capabilities.upsert and capabilities.copy and capabilities.savepoints and capabilities.ilike
    assert capabilities.transactional_ddl
    assert (capabilities.max_parameters, capabilities.max_identifier_length) == (32767, 63)


def test_server_version_is_the_version_number(dataflow_database_url: str) -> None:
    async def main() -> str:
        db = DataFlow(dataflow_database_url)
        try:
            session = await db.open_session()
            try:
                return await db.dialect.server_version(session.connection)
            finally:
                await db.close_session(session)
        finally:
            await db.close_async()

    version = asyncio.run(main())
    assert version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 12


def test_a_schema_that_does_not_exist_is_a_config_error_naming_it(pg_database: str) -> None:
    db = DataFlow(f"{pg_database}?schema=no_such_schema_here")

    @db.model
    class Thing:
        name: str

    async def body() -> None:
        try:
            await db.create_tables_async()
        finally:
            await db.close_async()

    with pytest.raises(ConfigError, match="has no schema 'no_such_schema_here'; create it") as info:
        asyncio.run(body())
    assert info.value.field == "schema"
    assert 'CREATE SCHEMA "no_such_schema_here"' in str(info.value)


def _compression(url: str, table: str, column: str) -> str:
    rows = fetch(url, "SELECT attcompression::text FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2",
                 f'"{table}"', column)  # fmt: skip
    return str(rows[0][0])  # "l" for lz4, "" for the server's default


def _has_lz4(url: str) -> bool:
    rows = fetch(url, "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    return bool(rows) and "lz4" in rows[0][0]


def test_fast_compression_makes_a_column_lz4_once_and_runs_again_in_a_transaction(dataflow_database_url: str) -> None:
    db = DataFlow(dataflow_database_url)
    statements = db.dialect.fast_compression_sql("big text", "body")

    async def go() -> None:
        async with db.standalone_session() as session:
            await session.execute('CREATE TABLE "big text" (id BIGINT PRIMARY KEY, body TEXT)')
            for statement in statements:
                await session.execute(statement)
            async with session.atomic():
                for statement in statements:  # already lz4: nothing to do, nothing fails
                    await session.execute(statement)
                await session.execute("INSERT INTO \"big text\" VALUES (1, repeat('abc', 100000))")

    try:
        asyncio.run(go())
        expected = "l" if _has_lz4(dataflow_database_url) else ""
        assert _compression(dataflow_database_url, "big text", "body") == expected
        assert fetch(dataflow_database_url, 'SELECT length(body) FROM "big text"')[0][0] == 300_000
    finally:
        db.close()
