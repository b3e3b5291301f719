"""Connection recovery and pool lifecycle, seen from the server: kills, thread churn, exit."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from mysql_helpers import admin_connection, database_url, server_connections

from dataflow.testing.helpers import define_people, open_db, run_node
from dataflow.testing.processes import DATAFLOW_CLI, UNCLOSED_SCRIPT, quiet_run


def settle(database: str, expected: int, timeout: float = 5.0) -> int:
    """Server-side connection count once it reaches ``expected`` (the server reaps closed sessions quickly)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = server_connections(database)
        if seen == expected or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def own_connection_ids(database: str) -> list[int]:
    admin = admin_connection()
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s", (database,))
            return [int(row[0]) for row in cursor.fetchall()]
    finally:
        admin.close()


def kill(ids: list[int]) -> None:
    admin = admin_connection()
    try:
        with admin.cursor() as cursor:
            for connection_id in ids:
                cursor.execute("KILL %s", (connection_id,))
    finally:
        admin.close()


def test_a_connection_killed_while_idle_is_replaced_before_the_next_sync_run(database_name: str) -> None:
    db = open_db(database_url(database_name))
    define_people(db)
    try:
        assert run_node(db, "UserCountNode", {}) == {"count": 0}
        killed = own_connection_ids(database_name)
        assert len(killed) == 1
        kill(killed)
        assert settle(database_name, 0) == 0
        for _ in range(5):
            assert run_node(db, "UserCreateNode", {"name": "Ann", "email": f"{time.monotonic()}@x"})["id"]
        assert run_node(db, "UserCountNode", {}) == {"count": 5}
        assert not set(own_connection_ids(database_name)) & set(killed)
    finally:
        db.close()


def test_threads_that_ended_leave_no_server_connections(database_name: str) -> None:
    db = open_db(database_url(database_name))
    define_people(db)
    db.create_tables()  # the main thread's pool: one connection, kept while the thread lives
    try:
        # 300 threads, ten alive at a time: each ends its pool with it, so none is left after a wave.
        for _ in range(30):
            threads = [threading.Thread(target=run_node, args=(db, "UserCountNode", {})) for _ in range(10)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert settle(database_name, 1) == 1
        assert len(db.pools()) == 1
    finally:
        db.close()


def test_a_script_that_never_closes_its_dataflow_exits_quietly(database_name: str) -> None:
    assert quiet_run(sys.executable, "-c", UNCLOSED_SCRIPT, database_url(database_name)).strip() == "1"
    assert settle(database_name, 0) == 0


def test_the_init_templates_and_the_cli_exit_quietly(database_name: str, tmp_path: Path) -> None:
    env = {"DATAFLOW_DATABASE_URL": database_url(database_name), "PYTHONPATH": str(tmp_path)}
    quiet_run(DATAFLOW_CLI, "init", cwd=tmp_path, env=env)
    assert "finished" in quiet_run(sys.executable, "workflow.py", cwd=tmp_path, env=env)
    quiet_run(DATAFLOW_CLI, "migrate", "status", "--models", "models:db", cwd=tmp_path, env=env)
    assert settle(database_name, 0) == 0
