"""What the tests (and the crash scripts they start) share: models, server checks, small runners."""

from __future__ import annotations

import asyncio
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, TypeVar

# The txn env installs every dialect, so the drivers the server checks use are there.
import asyncpg
import pymysql

from dataflow import AsyncLocalRuntime, DataFlow, MaxLength, WorkflowBuilder
from dataflow.testing.servers import fresh_database, server_url
from dataflow.url import DatabaseURL

T = TypeVar("T")
PREFIX = f"t{os.getpid() % 100000}"
"""Coordinators of this test process are named ``t<pid>_...``."""
HERE = Path(__file__).resolve().parent


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def define_accounts(db: DataFlow) -> None:
    """An Account model: a unique name and a balance."""

    @db.model
    class Account:
        name: Annotated[str, MaxLength(50)]
        balance: int = 0
        __dataflow__ = {"unique": [("name",)]}


def open_accounts(url: str) -> DataFlow:
    db = DataFlow(url)
    define_accounts(db)
    return db


def create_account(db: DataFlow, name: str, balance: int = 0, node_id: str = "create") -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["AccountCreateNode"], node_id, {"name": name, "balance": balance})
    return workflow


async def accounts(db: DataFlow) -> dict[str, int]:
    """Every account's balance by name, read in a run of its own."""
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["AccountListNode"], "list", {"order_by": ["name"]})
    results, _ = await AsyncLocalRuntime().execute_async(workflow)
    return {record["name"]: record["balance"] for record in results["list"]["records"]}


# -- prepared branches on the servers --------------------------------------------------


def _pg_admin_url(database: str = "postgres") -> str:
    parsed = DatabaseURL.parse(server_url("postgres"))
    return DatabaseURL(
        scheme="postgresql",
        username=parsed.username,
        password=parsed.password,
        host=parsed.host or "127.0.0.1",
        port=parsed.port,
        database=database,
    ).render(hide_password=False)


async def _pg_prepared(prefix: str) -> list[tuple[str, str]]:
    connection = await asyncpg.connect(_pg_admin_url(), timeout=5)
    try:
        rows = await connection.fetch("SELECT gid, database FROM pg_prepared_xacts WHERE starts_with(gid, $1)", prefix)
    finally:
        await connection.close()
    return [(str(row[0]), str(row[1])) for row in rows]


def _mysql_prepared(prefix: str) -> list[str]:
    connection = _mysql_connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("XA RECOVER")
            found = [row[3][: row[1]] for row in cursor.fetchall()]
    finally:
        connection.close()
    texts = [item.decode() if isinstance(item, bytes) else str(item) for item in found]
    return [text for text in texts if text.startswith(prefix)]


def _in_thread(call: Any) -> Any:
    """``call()`` on a thread of its own: usable from inside a running event loop too."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def our_prepared(backend: str, coordinator: str | None = None) -> list[str]:
    """Branches prepared by this test process (or by one coordinator) still held by the server."""
    prefix = f"dftx.{coordinator}." if coordinator else f"dftx.{PREFIX}_"
    try:
        if backend == "postgres":
            return [gid for gid, _ in _in_thread(lambda: asyncio.run(_pg_prepared(prefix)))]
        return _mysql_prepared(prefix)
    except OSError:
        return []


async def _pg_execute(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _mysql_connect() -> Any:
    parsed = DatabaseURL.parse(server_url("mysql"))
    return pymysql.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 3306,
        user=parsed.username or "root",
        password=parsed.password or "",
        connect_timeout=5,
        autocommit=True,
    )


def roll_back_prepared(backend: str) -> list[str]:
    """Roll back every branch this test process left prepared on ``backend``; return their ids."""
    prefix = f"dftx.{PREFIX}_"
    if backend == "postgres":
        branches = asyncio.run(_pg_prepared(prefix))
        for gid, database in branches:
            asyncio.run(_pg_execute(_pg_admin_url(database), f"ROLLBACK PREPARED '{gid}'"))
        return [gid for gid, _ in branches]
    if backend == "mysql":
        gids = _mysql_prepared(prefix)
        if gids:
            connection = _mysql_connect()
            try:
                with connection.cursor() as cursor:
                    for gid in gids:
                        cursor.execute(f"XA ROLLBACK '{gid}'")
            finally:
                connection.close()
        return gids
    return []


def server_database(backend: str, request: Any, tmp_path: Path) -> Iterator[str]:
    """A fixture body: a fresh database on ``backend``; this process's prepared branches rolled back before the drop."""
    outer = fresh_database(backend, request, tmp_path)
    url = next(outer)
    try:
        yield url
    finally:
        roll_back_prepared(backend)
        next(outer, None)


# -- processes -----------------------------------------------------------------------------


def start_script(script: str, *args: str) -> subprocess.Popen[str]:
    """Start ``python tests/<script> args...`` with this directory importable; stdout is a pipe."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, str(HERE / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_line(process: subprocess.Popen[str], expected: str, timeout: float = 60.0) -> list[str]:
    """Read the child's output until a line equal to ``expected``; fail with its stderr if it exits first."""
    assert process.stdout is not None
    stdout = process.stdout
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stdout:
            lines.put(line.rstrip("\n"))
            if line.rstrip("\n") == expected:
                return
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            line = None
        if line is None:
            break
        seen.append(line)
        if line == expected:
            return seen
    process.kill()
    _, err = process.communicate(timeout=10)
    raise AssertionError(f"the child never printed {expected!r}; it printed {seen}, stderr:\n{err}")


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL: no cleanup, no goodbye to the servers."""
    process.kill()
    process.communicate(timeout=30)
    assert process.returncode == -9, process.returncode
