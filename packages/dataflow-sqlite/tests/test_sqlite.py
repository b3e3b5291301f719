"""What the SQLite dialect promises beyond the compliance suite."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Annotated

import pytest

from dataflow import (
    AsyncLocalRuntime,
    ConfigError,
    ConnectionError,
    DataFlow,
    ValidationError,
    WorkflowBuilder,
    WorkflowError,
)
from dataflow.fields import Array
from dataflow.testing.helpers import count, define_people, people, run_node


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATAFLOW_DATABASE_URL", "DATABASE_URL", "DATAFLOW_ENV"):
        monkeypatch.delenv(name, raising=False)


def test_zero_configuration_opens_a_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = DataFlow()
    try:
        define_people(db)
        run_node(db, "UserCreateNode", {"name": "a", "email": "a@x"})
    finally:
        db.close()
    with sqlite3.connect(tmp_path / "dataflow.db") as raw:
        assert raw.execute("SELECT name FROM user").fetchall() == [("a",)]
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_environment_url_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    db = DataFlow()
    try:
        assert db.dialect.path == str(tmp_path / "env.db")
    finally:
        db.close()


def test_connections_have_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path / 'p.db'}?timeout=7")

    async def pragmas() -> tuple[int, int]:
        try:
            pool = await db.pool()
            connection = await pool.acquire()
            rows = await connection.fetch("PRAGMA foreign_keys")
            timeout = await connection.fetch("PRAGMA busy_timeout")
            await pool.release(connection)
            return rows[0][0], timeout[0][0]
        finally:
            await db.close_async()

    assert asyncio.run(pragmas()) == (1, 7000)


def test_memory_database_is_one_database_for_the_instance() -> None:
    db = DataFlow("sqlite:///:memory:")
    try:
        define_people(db)
        run_node(db, "UserBulkCreateNode", {"data": people(3)})

        async def from_another_loop() -> int:
            workflow = WorkflowBuilder()
            workflow.add_node(db.nodes["UserCountNode"], "count", {})
            results, _ = await AsyncLocalRuntime().execute_async(workflow.build())
            await db.close_loop(asyncio.get_running_loop())
            return int(results["count"]["count"])

        assert asyncio.run(from_another_loop()) == 3
        assert count(db, "User") == 3
    finally:
        db.close()
    other = DataFlow("sqlite:///:memory:")
    try:
        define_people(other)
        assert count(other, "User") == 0
    finally:
        other.close()


def test_unwritable_path_is_a_connection_error(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    try:
        define_people(db)
        with pytest.raises(WorkflowError) as info:
            run_node(db, "UserCountNode", {})
        assert isinstance(info.value.cause, ConnectionError) and "missing-dir" in str(info.value.cause)
    finally:
        db.close()


def test_path_that_is_a_directory_is_a_connection_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    db = DataFlow(f"sqlite:///{tmp_path / 'dir.db'}")
    try:
        define_people(db)
        with pytest.raises(WorkflowError) as info:
            run_node(db, "UserCountNode", {})
        assert isinstance(info.value.cause, ConnectionError) and "dir.db" in str(info.value.cause)
    finally:
        db.close()


def test_creating_tables_twice_and_from_two_processes_is_safe(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    script = textwrap.dedent(
        f"""
        from dataflow import DataFlow
        from dataflow.testing.helpers import define_people, run_node
        db = DataFlow("sqlite:///{path}")
        define_people(db)
        db.create_tables()
        db.create_tables()
        rows = [{{"name": "n", "email": f"{{i}}@x"}} for i in range(50)]
        run_node(db, "UserBulkCreateNode", {{"data": rows, "conflict_on": ["email"]}})
        db.close()
        """
    )
    processes = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(3)]
    assert [p.wait(timeout=60) for p in processes] == [0, 0, 0]
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM user").fetchone()[0] == 50


def test_concurrent_writers_on_one_file_wait_instead_of_failing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'writers.db'}"

    async def main() -> None:
        db = DataFlow(url, pool_size=4)
        try:
            define_people(db)
            await db.create_tables_async()
            runtime = AsyncLocalRuntime()

            async def write(i: int) -> None:
                workflow = WorkflowBuilder()
                workflow.add_node(db.nodes["UserBulkCreateNode"], "bulk", {"data": people(100, start=i * 100)})
                await runtime.execute_async(workflow.build(), transaction=True)

            await asyncio.gather(*(write(i) for i in range(8)))
        finally:
            await db.close_async()

    asyncio.run(main())
    with sqlite3.connect(tmp_path / "writers.db") as raw:
        assert raw.execute("SELECT COUNT(*) FROM user").fetchone()[0] == 800


def test_close_closes_every_connection(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path / 'c.db'}")
    define_people(db)
    run_node(db, "UserCountNode", {})
    pools = db.pools()
    db.close()
    assert pools and all(pool.state()["size"] == 0 for pool in pools)
    with pytest.raises(Exception, match="closed"):
        run_node(db, "UserCountNode", {})


def test_two_instances_opening_a_new_file_at_once_both_succeed(tmp_path: Path) -> None:
    # Switching a new file to WAL takes a lock the busy timeout does not wait for.
    async def open_one(url: str) -> None:
        db = DataFlow(url)
        define_people(db)
        try:
            session = await db.open_session()
            await db.close_session(session)
        finally:
            await db.close_async()

    async def main() -> None:
        for attempt in range(20):
            url = f"sqlite:///{tmp_path / f'new{attempt}.db'}"
            await asyncio.gather(open_one(url), open_one(url))

    asyncio.run(main())
    with sqlite3.connect(tmp_path / "new0.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_array_fields_are_stored_as_json_text(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path / 'arrays.db'}")
    try:
        namespace = {
            "__annotations__": {
                "counts": Annotated[list[int], Array()],
                "names": Annotated[list[str], Array()],
                "scores": Annotated[list[float], Array()],
                "flags": Annotated[list[bool], Array()] | None,
            },
            "flags": None,
        }
        db.model(type("Vector", (), namespace))
        row = {"counts": [2**62, -1], "names": ["a", 'it\'s "q"', ""], "scores": [0.5, 2.0], "flags": [True, False]}
        created = run_node(db, "VectorCreateNode", row)
        run_node(db, "VectorBulkCreateNode", {"data": [{**row, "counts": []}, {**row, "flags": None}]})
        assert {k: run_node(db, "VectorReadNode", {"id": created["id"]})[k] for k in row} == row
        records = run_node(db, "VectorListNode", {"order_by": ["id"]})["records"]
        assert [r["counts"] for r in records] == [[2**62, -1], [], [2**62, -1]]
        assert records[2]["flags"] is None
        with pytest.raises(WorkflowError) as info:
            run_node(db, "VectorCreateNode", {**row, "counts": [1, True]})
        assert isinstance(info.value.cause, ValidationError) and "counts[1]" in str(info.value.cause)
    finally:
        db.close()
    connection = sqlite3.connect(tmp_path / "arrays.db")
    try:
        declared = {r[1]: r[2] for r in connection.execute("PRAGMA table_info(vector)")}
        stored = connection.execute("SELECT counts, names, typeof(counts) FROM vector ORDER BY id").fetchone()
    finally:
        connection.close()
    assert declared["counts"] == declared["names"] == "TEXT"
    assert stored[2] == "text" and [json.loads(v) for v in stored[:2]] == [row["counts"], row["names"]]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            "timout=5",
            "timout",
            "unknown sqlite URL option 'timout'; did you mean 'timeout'?; options: timeout, synchronous",
        ),
        ("Timeout=5", "Timeout", "did you mean 'timeout'?"),
        ("synchronus=FULL", "synchronus", "did you mean 'synchronous'?"),
        ("timeout=soon", "timeout", "timeout must be a number of seconds, 0 or more, got 'soon'"),
        ("timeout=-1", "timeout", "got '-1'"),
        ("timeout=nan", "timeout", "got 'nan'"),
        ("synchronous=sometimes", "synchronous", "must be OFF, NORMAL, FULL or EXTRA, got 'sometimes'"),
    ],
)
def test_url_options_are_checked_and_unknown_ones_name_the_nearest(
    tmp_path: Path, query: str, field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        DataFlow(f"sqlite:///{tmp_path / 'o.db'}?{query}")
    assert info.value.field == field and message in str(info.value)
    assert not (tmp_path / "o.db").exists()


def test_known_url_options_are_read(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path / 'o.db'}?timeout=0.5&synchronous=full")
    try:
        assert (db.dialect.busy_timeout, db.dialect.synchronous) == (0.5, "FULL")  # type: ignore[attr-defined]
    finally:
        db.close()


def test_threads_that_ended_leave_no_connection_threads_behind(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path / 'churn.db'}")
    define_people(db)
    run_node(db, "UserCountNode", {})  # the main thread's pool stays: its thread is alive
    before = {thread.name for thread in threading.enumerate()}
    try:
        for _ in range(10):
            threads = [threading.Thread(target=run_node, args=(db, "UserCountNode", {})) for _ in range(10)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        # Each connection runs on a thread of its own: an ended pool has stopped them all.
        left = {t.name for t in threading.enumerate() if t.name.startswith("dataflow-sqlite")} - before
        assert left == set()
        assert len(db.pools()) == 1
    finally:
        db.close()


def test_a_script_that_never_closes_its_dataflow_exits_quietly(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from dataflow import DataFlow
        from dataflow.testing.helpers import define_people, run_node

        db = DataFlow(sys.argv[1])
        define_people(db)
        run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
        print(run_node(db, "UserCountNode", {})["count"])
        """
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", script, f"sqlite:///{tmp_path / 'quiet.db'}"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "1", "")
