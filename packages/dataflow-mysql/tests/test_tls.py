"""TLS: ``ssl=required`` never falls back to plaintext; ``ssl=prefer`` does, on this server without TLS."""

from __future__ import annotations

import asyncio

import pytest
from mysql_helpers import admin_connection, database_url, open_db
from tls_server import TLSServer, tls_database, tls_server_fixture  # noqa: F401 - the tls_server fixture

from dataflow import AsyncLocalRuntime, WorkflowBuilder
from dataflow.errors import ConfigError, ConnectionError


def _server_has_tls() -> bool:
    connection = admin_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@have_ssl")
            return bool(cursor.fetchone()[0] == "YES")
    finally:
        connection.close()


@pytest.mark.parametrize("option", ["ssl=true", "ssl=required", "ssl=REQUIRED", "sslmode=require"])
def test_required_tls_fails_on_a_server_without_it(database_name: str, option: str) -> None:
    if _server_has_tls():
        pytest.skip("this server offers TLS")
    key, value = option.split("=")
    db = open_db(database_url(database_name, **{key: value}))

    async def body() -> None:
        try:
            await db.pool()
        finally:
            await db.close_async()

    with pytest.raises(ConnectionError, match="does not offer it; configure TLS on the server, or use ssl=prefer") as e:
        asyncio.run(body())
    assert e.value.field == "ssl"


def test_preferred_tls_connects_in_plaintext_when_the_server_has_none(database_name: str) -> None:
    db = open_db(database_url(database_name, ssl="prefer"))

    @db.model
    class Note:
        text: str

    async def body() -> list[str]:
        try:
            workflow = WorkflowBuilder()
            workflow.add_node(db.nodes["NoteCreateNode"], "create", {"text": "hello"})
            await AsyncLocalRuntime().execute_async(workflow)
            workflow = WorkflowBuilder()
            workflow.add_node(db.nodes["NoteListNode"], "list", {})
            results, _ = await AsyncLocalRuntime().execute_async(workflow)
            return [record["text"] for record in results["list"]["records"]]
        finally:
            await db.close_async()

    assert asyncio.run(body()) == ["hello"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("ssl=maybe", "ssl", "must be required"),
        ("sslmode=sometimes", "sslmode", "must be required"),
        ("ssl=true&sslmode=require", "sslmode", "give only one"),
        ("ssl=false&ssl_ca=/ca.pem", "ssl", "turns TLS off"),
    ],
)
def test_a_bad_ssl_option_is_a_config_error_naming_it(query: str, field: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        open_db(f"mysql://root@127.0.0.1:3306/test?{query}")
    assert e.value.field == field


async def _session_cipher(url: str) -> str:
    """The TLS version the server reports for a DataFlow connection ('' in plaintext)."""
    db = open_db(url)
    try:
        pool = await db.pool()
        connection = await pool.acquire()
        try:
            rows = await connection.fetch("SHOW SESSION STATUS LIKE 'Ssl_version'")
        finally:
            await pool.release(connection)
        return str(rows[0][1])
    finally:
        await db.close_async()


def test_required_tls_is_negotiated_and_verified_with_the_servers_ca(tls_server: TLSServer) -> None:
    tls_database(tls_server, "tls_required")
    url = tls_server.url("tls_required", f"ssl=required&ssl_ca={tls_server.ca}")
    assert asyncio.run(_session_cipher(url)).startswith("TLS")


def test_required_tls_refuses_a_certificate_no_trusted_ca_signed(tls_server: TLSServer) -> None:
    tls_database(tls_server, "tls_untrusted")
    with pytest.raises(ConnectionError, match=r"TLS handshake failed .*certificate.*; name the CA .* ssl_ca") as e:
        asyncio.run(_session_cipher(tls_server.url("tls_untrusted", "ssl=true")))
    assert e.value.field == "ssl"


def test_preferred_tls_encrypts_when_the_server_offers_it(tls_server: TLSServer) -> None:
    tls_database(tls_server, "tls_preferred")
    assert asyncio.run(_session_cipher(tls_server.url("tls_preferred", "ssl=prefer"))).startswith("TLS")
    assert asyncio.run(_session_cipher(tls_server.url("tls_preferred", "ssl=false"))) == ""
