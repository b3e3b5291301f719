"""Deadlocks and lock waits, produced for real by two concurrent workflow runs on PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from monitor_helpers import Gate, define_item, monitor, run, samples

from dataflow import DataFlow, WorkflowBuilder, WorkflowError
from dataflow.errors import DeadlockError
from dataflow.testing.servers import server_url, unreachable, with_database
from dataflow.url import DatabaseURL
from dataflow_monitor.fingerprint import fingerprint
from dataflow_monitor.lockwatch import chains


def _update_two(db: DataFlow, first: int, second: int, gate: dict[str, Any]) -> WorkflowBuilder:
    """Update row ``first``, pass the gate, then update row ``second``."""
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["ItemUpdateNode"], "first", {"id": first, "fields": {"qty": 1}})
    workflow.add_node(Gate, "gate", {**gate, "next_id": second})
    workflow.add_node(db.nodes["ItemUpdateNode"], "second", {"fields": {"qty": 2}})
    workflow.add_connection("first", "id", "gate", "after")
    workflow.add_connection("gate", "id", "second", "id")
    return workflow


async def _two_rows(db: DataFlow) -> tuple[int, int]:
    workflow = WorkflowBuilder()
    workflow.add_node(
        db.nodes["ItemBulkCreateNode"], "rows", {"data": [{"name": "a"}, {"name": "b"}], "return_ids": True}
    )
    ids = (await run(workflow))["rows"]["ids"]
    return ids[0], ids[1]


def test_a_real_deadlock_is_counted_and_reported_with_the_statements_of_both_runs(server_database_url: str) -> None:
    async def body() -> DataFlow:
        db = DataFlow(server_database_url)
        define_item(db)
        try:
            a, b = await _two_rows(db)
            barrier = asyncio.Barrier(2)
            outcomes = await asyncio.gather(
                run(_update_two(db, a, b, {"barrier": barrier}), transaction=True),
                run(_update_two(db, b, a, {"barrier": barrier}), transaction=True),
                return_exceptions=True,
            )
        finally:
            await db.close_async()
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(failures) == 1, outcomes
        assert isinstance(failures[0], WorkflowError) and isinstance(failures[0].cause, DeadlockError)
        return db

    db = asyncio.run(body())
    assert monitor(db).deadlocks.count == 1
    assert samples(db, "dataflow_deadlocks_total") == {(("model", "Item"),): 1}
    (report,) = monitor(db).deadlocks.entries
    assert report.sql.startswith("UPDATE")
    updates = [sql for sql in report.statements if sql.startswith("UPDATE")]
    assert len(updates) == 2  # its first update, and the one the database aborted
    (other,) = report.others.values()
    assert any(sql.startswith("UPDATE") for sql in other)
    errors = samples(db, "dataflow_statement_errors_total")
    assert errors[(("error", "DeadlockError"), ("model", "Item"), ("operation", "update"))] == 1


def test_a_long_lock_wait_is_reported_while_it_happens_with_the_blocking_session(server_database_url: str) -> None:
    async def body() -> DataFlow:
        db = DataFlow(server_database_url)
        define_item(db)
        try:
            a, _ = await _two_rows(db)
            locked = asyncio.Event()
            holder = WorkflowBuilder()
            holder.add_node(db.nodes["ItemUpdateNode"], "lock", {"id": a, "fields": {"qty": 1}})
            holder.add_node(Gate, "hold", {"signal": locked, "sleep": 1.2})
            holder.add_connection("lock", "id", "hold", "after")
            waiter = WorkflowBuilder()
            waiter.add_node(Gate, "wait", {"event": locked, "next_id": a})
            waiter.add_node(db.nodes["ItemUpdateNode"], "blocked", {"fields": {"qty": 2}})
            waiter.add_connection("wait", "id", "blocked", "id")
            async with monitor(db).watch_locks(threshold=0.3, interval=0.1) as watcher:
                await asyncio.gather(run(holder, transaction=True), run(waiter, transaction=True))
            assert not watcher.running
            assert watcher.errors == 0, watcher.last_error
        finally:
            await db.close_async()
        return db

    db = asyncio.run(body())
    (wait,) = monitor(db).lock_waits.entries
    assert 0.3 <= wait.waited < 5
    assert wait.blocked.statement is not None and wait.blocked.statement.lstrip().upper().startswith("UPDATE")
    assert len(wait.chain) == 2 and wait.chain[1].session != wait.blocked.session
    if db.dialect.name == "postgresql":
        assert (wait.chain[1].statement or "").startswith("UPDATE")  # the holder's last statement
        assert wait.chain[1].state == "idle in transaction"
    assert samples(db, "dataflow_lock_waits_total") == {(): 1}


def test_wait_chains_follow_blockers_to_the_root() -> None:
    edges = [(3, "UPDATE c", 2, "UPDATE b", "active", 2.0), (2, "UPDATE b", 1, "SELECT 1", "idle in transaction", 3.0)]
    by_waiter = {wait.blocked.session: wait for wait in chains("db", edges)}
    assert [w.session for w in by_waiter[3].chain] == [3, 2, 1]
    assert [w.statement for w in by_waiter[3].chain] == ["UPDATE c", "UPDATE b", "SELECT 1"]
    assert by_waiter[2].waited == 3.0


def test_the_lock_watcher_does_nothing_on_sqlite(tmp_path: object) -> None:
    async def body() -> None:
        db = DataFlow(f"sqlite:///{tmp_path}/locks.db")
        try:
            async with monitor(db).watch_locks() as watcher:
                assert not watcher.running
        finally:
            await db.close_async()

    asyncio.run(body())


def test_a_lock_wait_is_reported_without_the_values_of_its_statements(server_database_url: str) -> None:
    async def body() -> DataFlow:
        db = DataFlow(server_database_url)
        define_item(db)
        try:
            a, _ = await _two_rows(db)
            locked = asyncio.Event()
            holder = WorkflowBuilder()
            holder.add_node(db.nodes["ItemUpdateNode"], "lock", {"id": a, "fields": {"name": "holder-secret"}})
            holder.add_node(Gate, "hold", {"signal": locked, "sleep": 1.0})
            holder.add_connection("lock", "id", "hold", "after")
            waiter = WorkflowBuilder()
            waiter.add_node(Gate, "wait", {"event": locked, "next_id": a})
            waiter.add_node(db.nodes["ItemUpdateNode"], "blocked", {"fields": {"name": "SSN-123-45-6789"}})
            waiter.add_connection("wait", "id", "blocked", "id")
            async with monitor(db).watch_locks(threshold=0.3, interval=0.1):
                await asyncio.gather(run(holder, transaction=True), run(waiter, transaction=True))
        finally:
            await db.close_async()
        return db

    db = asyncio.run(body())
    (wait,) = monitor(db).lock_waits.entries
    text = repr(wait.as_dict()) + repr(monitor(db).snapshot()["lock_waits"])
    assert "SSN-123" not in text and "holder-secret" not in text and str(wait.blocked.session) in text
    assert wait.blocked.statement is not None and wait.blocked.statement.upper().startswith("UPDATE")


def _mysql_admin(database: str | None = None) -> Any:
    url = DatabaseURL.parse(server_url("mysql"))
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=database,
        autocommit=True,
    )


@pytest.fixture
def other_database_lock_wait() -> Iterator[int]:
    """A lock wait in a database of its own (another application's): yields the waiting thread id."""
    name = f"t_other_{secrets.token_hex(6)}"
    try:
        admin = _mysql_admin()
    except pymysql.err.MySQLError as exc:
        unreachable("mysql", exc)
    holder = waiter = None
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
            cursor.execute(f"CREATE TABLE `{name}`.accounts (id INT PRIMARY KEY, ssn VARCHAR(20)) ENGINE=InnoDB")
            cursor.execute(f"INSERT INTO `{name}`.accounts VALUES (1, 'none')")
        holder, waiter = _mysql_admin(name), _mysql_admin(name)
        holder.begin()
        holder.cursor().execute("UPDATE accounts SET ssn = 'held' WHERE id = 1")
        waiter.cursor().execute("SET SESSION innodb_lock_wait_timeout = 20")
        waiting = waiter.thread_id()

        outcome: list[BaseException] = []

        def wait() -> None:
            try:
                waiter.begin()
                waiter.cursor().execute("UPDATE accounts SET ssn = 'OTHER-APP-SSN' WHERE id = 1")
                waiter.commit()
            except pymysql.err.MySQLError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=wait)
        thread.start()
        with admin.cursor() as cursor:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                cursor.execute(
                    "SELECT COUNT(*) FROM information_schema.INNODB_TRX "
                    "WHERE trx_mysql_thread_id = %s AND trx_state = 'LOCK WAIT'",
                    (waiting,),
                )
                if cursor.fetchone()[0]:
                    break
                # InnoDB refreshes its INNODB_TRX snapshot only after 100 ms without a reader.
                time.sleep(0.25)
            else:
                pytest.fail(f"the other database's lock wait did not start ({outcome})")
        try:
            yield waiting
        finally:
            holder.rollback()
            thread.join(30)
    finally:
        for connection in (holder, waiter):
            if connection is not None:
                connection.close()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def test_the_mariadb_lock_watcher_ignores_waits_of_other_databases(other_database_lock_wait: int) -> None:
    name = f"t_{secrets.token_hex(6)}"
    admin = _mysql_admin()
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
    try:

        async def body() -> list[Any]:
            db = DataFlow(with_database(server_url("mysql"), name))
            try:
                watcher = monitor(db).watch_locks(threshold=0.0)
                await asyncio.sleep(0.2)
                found = await watcher.poll()
                assert watcher.errors == 0
                return found
            finally:
                await db.close_async()

        found = asyncio.run(body())
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()
    assert found == [], found
    assert all(wait.blocked.session != other_database_lock_wait for wait in found)


def test_statement_text_loses_its_literal_values() -> None:
    sql = "INSERT INTO `t` (`a`, `b`) VALUES ('Ann','SSN-123-45-6789'),('B\\'o''b',42),(X'00ff',-1.5e3)"
    assert fingerprint(sql) == "INSERT INTO `t` (`a`, `b`) VALUES (?,?)"
    assert fingerprint('UPDATE "t_1"."items" SET qty = $1 WHERE id = $2 LIMIT 10') == (
        'UPDATE "t_1"."items" SET qty = $1 WHERE id = $2 LIMIT ?'
    )
    assert fingerprint("UPDATE x SET v = 'cut short by the serv") == "UPDATE x SET v = ?"
    assert fingerprint(None) is None
