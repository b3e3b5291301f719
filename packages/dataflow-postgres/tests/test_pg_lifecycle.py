"""Connection recovery and pool lifecycle, seen from the server: kills, thread churn, exit."""

from __future__ import annotations

import asyncio
import atexit
import os
import sys
import threading
from pathlib import Path

from pg_testing import fetch, fetch_async, option, run_node, wait_for_connections

from dataflow import AsyncLocalRuntime, WorkflowBuilder
from dataflow.testing.helpers import define_people, open_db
from dataflow.testing.processes import DATAFLOW_CLI, UNCLOSED_SCRIPT, quiet_run


def own_backends(url: str) -> list[int]:
    """Backend pids of this test's connections (its own ``application_name``)."""
    rows = fetch(url, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", option(url, "application_name"))
    return [int(row[0]) for row in rows]


def terminate(url: str, pids: list[int]) -> None:
    fetch(url, "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", pids)


def test_a_connection_terminated_while_idle_is_replaced_before_the_next_sync_run(dataflow_database_url: str) -> None:
    db = open_db(dataflow_database_url)
    define_people(db)
    try:
        assert run_node(db, "UserCountNode", {}) == {"count": 0}
        killed = own_backends(dataflow_database_url)
        assert len(killed) == 1
        terminate(dataflow_database_url, killed)
        assert wait_for_connections(dataflow_database_url, 0) == 0
        for i in range(5):
            assert run_node(db, "UserCreateNode", {"name": "Ann", "email": f"{i}@x"})["id"]
        assert run_node(db, "UserCountNode", {}) == {"count": 5}
        assert not set(own_backends(dataflow_database_url)) & set(killed)
    finally:
        db.close()


def test_a_connection_terminated_while_idle_is_replaced_before_the_next_async_run(dataflow_database_url: str) -> None:
    async def main() -> tuple[int, int]:
        db = open_db(dataflow_database_url)
        define_people(db)
        try:
            runtime = AsyncLocalRuntime()
            workflow = WorkflowBuilder()
            workflow.add_node(db.nodes["UserCountNode"], "count", {})
            await runtime.execute_async(workflow.build())
            [(killed,)] = await fetch_async(
                dataflow_database_url,
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                option(dataflow_database_url, "application_name"),
            )
            await fetch_async(dataflow_database_url, "SELECT pg_terminate_backend($1)", killed)
            for _ in range(100):  # the backend exits a moment after the signal
                if not await fetch_async(
                    dataflow_database_url, "SELECT 1 FROM pg_stat_activity WHERE pid = $1", killed
                ):
                    break
                await asyncio.sleep(0.05)
            results, _ = await runtime.execute_async(workflow.build())
            assert results == {"count": {"count": 0}}
            session = await db.open_session()
            try:
                [(now,)] = await session.fetch("SELECT pg_backend_pid()")
            finally:
                await db.close_session(session)
            return int(killed), int(now)
        finally:
            await db.close_async()

    killed, now = asyncio.run(main())
    assert killed != now


def test_threads_that_ended_leave_no_server_connections(dataflow_database_url: str) -> None:
    db = open_db(dataflow_database_url)
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
            assert wait_for_connections(dataflow_database_url, 1) == 1
        assert len(db.pools()) == 1
    finally:
        db.close()
    assert wait_for_connections(dataflow_database_url, 0) == 0


def test_a_script_that_never_closes_its_dataflow_exits_quietly(dataflow_database_url: str) -> None:
    assert quiet_run(sys.executable, "-c", UNCLOSED_SCRIPT, dataflow_database_url).strip() == "1"
    assert wait_for_connections(dataflow_database_url, 0) == 0


def test_the_init_templates_and_the_cli_exit_quietly(dataflow_database_url: str, tmp_path: Path) -> None:
    env = {"DATAFLOW_DATABASE_URL": dataflow_database_url, "PYTHONPATH": str(tmp_path)}
    quiet_run(DATAFLOW_CLI, "init", cwd=tmp_path, env=env)
    assert "finished" in quiet_run(sys.executable, "workflow.py", cwd=tmp_path, env=env)
    quiet_run(DATAFLOW_CLI, "migrate", "status", "--models", "models:db", cwd=tmp_path, env=env)
    assert wait_for_connections(dataflow_database_url, 0) == 0


def test_a_forked_child_that_exits_leaves_the_parents_connection_open(dataflow_database_url: str) -> None:
    db = open_db(dataflow_database_url)
    define_people(db)
    try:
        run_node(db, "UserCountNode", {})
        [before] = own_backends(dataflow_database_url)
        child = os.fork()
        if child == 0:  # the child runs the exit handlers, with copies of the parent's sockets
            try:
                atexit._run_exitfuncs()
            finally:
                os._exit(0)  # not through pytest, which would tear the test's database down
        os.waitpid(child, 0)
        assert run_node(db, "UserCountNode", {}) == {"count": 0}
        assert own_backends(dataflow_database_url) == [before]
    finally:
        db.close()
