"""A connection killed by the server in the middle of a transactional bulk write leaves nothing written."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any, ClassVar

import asyncpg
import pymysql
import pytest
from txn_helpers import _mysql_connect, _pg_admin_url, accounts, open_accounts, run

from dataflow import AsyncLocalRuntime, ConnectionError, DataFlow, WorkflowBuilder, WorkflowError
from dataflow.nodes.base import Node
from dataflow.session import Session
from dataflow.url import DatabaseURL


def signal_node(event: asyncio.Event) -> type[Node]:
    class Signal(Node):
        type_name: ClassVar[str] = "Signal"

        async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
            event.set()
            return {}

    return Signal


async def kill_postgres_backend(application_name: str, go: asyncio.Event) -> bool:
    await go.wait()
    connection = await asyncpg.connect(_pg_admin_url(), timeout=5)
    try:
        for _ in range(5000):
            killed = await connection.fetchval(
                "SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = $1 AND state = 'active'",
                application_name,
            )
            if killed:
                return True
            await asyncio.sleep(0.002)
        return False
    finally:
        await connection.close()


async def kill_mysql_connection(database: str, go: asyncio.Event) -> bool:
    await go.wait()

    def kill() -> bool:
        connection = _mysql_connect()
        try:
            with connection.cursor() as cursor:
                for _ in range(5000):
                    cursor.execute(
                        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND COMMAND = 'Query' "
                        "AND INFO LIKE 'INSERT INTO%%'",
                        (database,),
                    )
                    rows = cursor.fetchall()
                    if rows:
                        try:
                            cursor.execute(f"KILL CONNECTION {int(rows[0][0])}")
                        except pymysql.err.OperationalError:
                            continue  # it finished meanwhile
                        return True
                return False
        finally:
            connection.close()

    return await asyncio.to_thread(kill)


def test_a_killed_connection_in_a_transactional_bulk_write_leaves_nothing(server_url: str) -> None:
    async def main() -> None:
        tag = f"dfkill_{secrets.token_hex(4)}"
        url = f"{server_url}&application_name={tag}" if "postgresql" in server_url else server_url
        db: DataFlow = open_accounts(url)
        try:
            await accounts(db)  # the table exists before the run
            go = asyncio.Event()
            workflow = WorkflowBuilder()
            workflow.add_node(db.nodes["AccountCreateNode"], "first", {"name": "first"})
            workflow.add_node(signal_node(go), "go", {})
            rows = [{"name": f"n{i}", "balance": i} for i in range(100_000)]
            workflow.add_node(db.nodes["AccountBulkCreateNode"], "bulk", {"data": rows, "batch_size": 5000})
            workflow.add_connection("first", "", "go", "")
            workflow.add_connection("go", "", "bulk", "")
            if db.dialect.name == "postgresql":
                killer = asyncio.create_task(kill_postgres_backend(tag, go))
            else:
                killer = asyncio.create_task(kill_mysql_connection(str(DatabaseURL.parse(url).database), go))
            with pytest.raises(WorkflowError) as caught:
                await AsyncLocalRuntime().execute_async(workflow, transaction=True)
            assert await killer, "the bulk write finished before it could be killed"
            assert isinstance(caught.value.cause, ConnectionError)
            assert caught.value.node_id == "bulk"
            assert await accounts(db) == {}
        finally:
            await db.close_async()

    run(main())
