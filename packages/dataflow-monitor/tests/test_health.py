"""Health: a real round trip, version and pool; down when the server is; old prepared transactions."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiomysql
import asyncpg
import pytest
from monitor_helpers import define_item, monitor, one_node, run, samples

from dataflow import DataFlow, LocalRuntime, WorkflowBuilder
from dataflow.errors import MigrationError
from dataflow.testing.servers import fresh_database
from dataflow.url import DatabaseURL
from dataflow_monitor import HealthCheck, HealthReport


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    yield port


def test_a_reachable_database_is_healthy_with_version_round_trip_and_pool(any_database_url: str) -> None:
    async def body() -> tuple[DataFlow, HealthReport]:
        db = DataFlow(any_database_url)
        try:
            report = await HealthCheck.of(db)()
        finally:
            await db.close_async()
        return db, report

    db, report = asyncio.run(body())
    assert report.healthy and report.status == "ok", report
    assert report.round_trip is not None and report.round_trip > 0
    assert report.server_version and report.server_version[0].isdigit()
    assert report.pool is not None and report.pool["size"] >= 1
    assert samples(db, "dataflow_up") == {(): 1.0}


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_a_server_that_is_down_is_reported_down_not_raised(scheme: str, closed_port: int) -> None:
    async def body() -> tuple[DataFlow, HealthReport]:
        db = DataFlow(f"{scheme}://root@127.0.0.1:{closed_port}/nothing", connect_timeout=2)
        try:
            report = await HealthCheck.of(db)()
        finally:
            await db.close_async()
        return db, report

    db, report = asyncio.run(body())
    assert not report.healthy and report.status == "down"
    assert report.error and "ConnectionError" in report.error
    assert samples(db, "dataflow_up") == {(): 0.0}


def test_the_sync_form_works_outside_and_inside_an_event_loop(tmp_path: object) -> None:
    db = DataFlow(f"sqlite:///{tmp_path}/sync.db")
    try:
        assert HealthCheck.of(db).sync().healthy

        async def inside() -> HealthReport:
            report: HealthReport = HealthCheck.of(db).sync()
            return report

        assert asyncio.run(inside()).healthy
    finally:
        db.close()


def test_health_check_node_reports_each_database_and_false_when_one_is_down(tmp_path: object, closed_port: int) -> None:
    up = DataFlow(f"sqlite:///{tmp_path}/up.db")
    down = DataFlow(f"postgresql://postgres@127.0.0.1:{closed_port}/x", connect_timeout=2)
    try:
        # Open the SQLite file once first: two first connections at once may find it locked (a
        # dataflow-sqlite issue, reported), which is not what this test is about.
        assert HealthCheck.of(up).sync().healthy
        workflow = WorkflowBuilder()
        workflow.add_node("HealthCheckNode", "up", {"databases": [up.label]})
        workflow.add_node("HealthCheckNode", "both", {"databases": [up, down]})
        results, _ = LocalRuntime().execute(workflow)
    finally:
        up.close()
        down.close()
    assert results["up"]["healthy"] is True
    assert results["both"]["healthy"] is False
    assert [d["status"] for d in results["both"]["databases"]] == ["ok", "down"], [
        d["error"] for d in results["both"]["databases"]
    ]


def test_old_prepared_transactions_make_postgres_degraded(postgres_session_database: str) -> None:
    # Other tests (and other people) may hold prepared transactions on the same server at the same time:
    # the report is checked for this one, never for the server-wide list.
    gid = f"dataflow_monitor_test_{uuid.uuid4().hex}"

    async def body() -> HealthReport:
        raw = await asyncpg.connect(postgres_session_database)
        db = DataFlow(postgres_session_database)
        try:
            await raw.execute("CREATE TABLE IF NOT EXISTS monitor_prepared (x int)")
            await raw.execute("BEGIN")
            await raw.execute("INSERT INTO monitor_prepared VALUES (1)")
            await raw.execute(f"PREPARE TRANSACTION '{gid}'")
            monitor(db).configure(prepared_transaction_age=0.0)
            await asyncio.sleep(0.05)
            return await HealthCheck.of(db)()
        finally:
            await raw.execute(f"ROLLBACK PREPARED '{gid}'")
            await raw.execute("DROP TABLE monitor_prepared")
            await raw.close()
            await db.close_async()

    report = asyncio.run(body())
    assert report.status == "degraded" and not report.healthy
    assert gid in [p["gid"] for p in report.prepared_transactions]
    assert any(gid in problem for problem in report.problems)


def test_health_after_work_shows_in_the_snapshot(tmp_path: object) -> None:
    async def body() -> dict[str, object]:
        db = DataFlow(f"sqlite:///{tmp_path}/snap.db")
        define_item(db)
        try:
            await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
            await HealthCheck.of(db)()
            return monitor(db).snapshot()
        finally:
            await db.close_async()

    snapshot = asyncio.run(body())
    assert snapshot["health"]["status"] == "ok"  # type: ignore[index]


@pytest.fixture(params=("sqlite", "postgres"))
def sqlite_or_postgres_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on SQLite and on PostgreSQL."""
    yield from fresh_database(request.param, request, tmp_path)


def test_pending_migrations_make_health_degraded_until_migrated(sqlite_or_postgres_url: str) -> None:
    async def body() -> tuple[HealthReport, HealthReport, HealthReport]:
        older = DataFlow(sqlite_or_postgres_url)

        @older.model
        class Item:  # the model as it was: no qty column yet
            name: str

        await older.create_tables_async()
        await older.close_async()

        db = DataFlow(sqlite_or_postgres_url, env="production")  # nothing is created or altered by itself
        define_item(db)  # Item(name, qty)
        try:
            before = await HealthCheck.of(db)()
            await db.migrate_async()
            after = await HealthCheck.of(db)()
            dropped = DataFlow(sqlite_or_postgres_url, env="production")
            no_models = await HealthCheck.of(dropped)()
            await dropped.close_async()
        finally:
            await db.close_async()
        return before, after, no_models

    before, after, no_models = asyncio.run(body())
    assert before.status == "degraded" and not before.healthy, before
    (step,) = before.pending_migrations or []
    assert step.startswith("add column") and step.endswith(".qty"), step
    assert any(step in problem for problem in before.problems), before.problems
    assert before.as_dict()["pending_migrations"] == [step]
    assert after.status == "ok" and after.healthy, after
    assert after.pending_migrations == [] and after.problems == ()
    assert no_models.healthy and no_models.pending_migrations == []  # tables without models are not pending


def test_pending_migrations_are_null_when_the_dialect_cannot_read_its_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = DataFlow(f"sqlite:///{tmp_path}/blind.db")
    define_item(db)

    def cannot() -> None:
        raise MigrationError("this dialect cannot read its live schema")

    monkeypatch.setattr(db.dialect, "introspector", cannot)
    try:
        report: HealthReport = HealthCheck.of(db).sync()
    finally:
        db.close()
    assert report.status == "ok" and report.pending_migrations is None, report
    assert report.as_dict()["pending_migrations"] is None


@pytest.fixture
def mysql_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database("mysql", request, tmp_path)


def test_prepared_xa_branches_of_dataflow_txn_are_judged_by_the_age_their_id_carries(mysql_database_url: str) -> None:
    pytest.importorskip("dataflow_txn")

    url = DatabaseURL.parse(mysql_database_url)
    suffix = f"{int(time.time() * 1000) % 0xFFFFFF:06x}00"
    old = f"dftx.mon.{int((time.time() - 7200) * 1000):011x}{suffix}.orders"
    fresh = f"dftx.mon.{int(time.time() * 1000):011x}{suffix}.orders"
    foreign = f"other_app_{suffix}"

    async def body() -> HealthReport:
        db = DataFlow(mysql_database_url)
        raws: list[tuple[aiomysql.Connection, str]] = []
        try:
            for gid in (old, fresh, foreign):
                raw = await aiomysql.connect(host=url.host, port=url.port or 3306, user=url.username, db=url.database)
                raws.append((raw, gid))
                async with raw.cursor() as cursor:
                    if len(raws) == 1:
                        await cursor.execute("CREATE TABLE monitor_xa (x INT)")
                    await cursor.execute(f"XA START '{gid}'")
                    await cursor.execute("INSERT INTO monitor_xa VALUES (1)")
                    await cursor.execute(f"XA END '{gid}'")
                    await cursor.execute(f"XA PREPARE '{gid}'")
            monitor(db).configure(prepared_transaction_age=3600.0)
            return await HealthCheck.of(db)()
        finally:
            for raw, gid in raws:
                async with raw.cursor() as cursor:
                    await cursor.execute(f"XA ROLLBACK '{gid}'")
                raw.close()
            await db.close_async()

    report = asyncio.run(body())
    listed = {p["gid"]: p["age"] for p in report.prepared_transactions if p["gid"] in (old, fresh, foreign)}
    assert set(listed) == {old, foreign}
    assert listed[foreign] is None and 7100 < listed[old] < 7300
    assert report.status == "degraded" and any(old in problem for problem in report.problems)
    assert not any(foreign in problem for problem in report.problems)
