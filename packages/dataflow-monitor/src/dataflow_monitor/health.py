"""Health: a real round trip to the database, its version, its pools, and what needs attention.

``await db.health()`` (or ``db.health.sync()``) checks one instance; the
``HealthCheckNode`` checks every monitored instance of the process. A server
that cannot be reached within ``health_timeout`` seconds is reported down,
never raised: a health check answers, it does not fail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.errors import MigrationError
from dataflow.loops import run_sync

from .pools import pool_state

if TYPE_CHECKING:
    from dataflow import DataFlow

    from .monitor import Monitor

log = logging.getLogger("dataflow.monitor")

POSTGRES_PREPARED = """
SELECT gid, owner, database, EXTRACT(EPOCH FROM now() - prepared)
FROM pg_prepared_xacts
WHERE prepared < now() - make_interval(secs => $1)
ORDER BY prepared
"""
POSTGRES_REPLICATION_LAG = """
SELECT CASE WHEN pg_is_in_recovery()
            THEN COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END
"""


@attrs.frozen
class HealthReport:
    """What one health check found."""

    database: str
    dialect: str
    status: str
    """``"ok"``; ``"degraded"`` (reachable, with problems); ``"down"`` (not reachable)."""
    round_trip: float | None = None
    """Seconds for ``SELECT 1`` on a pooled connection, acquiring it included."""
    server_version: str | None = None
    pool: dict[str, int] | None = None
    replication_lag: float | None = None
    """Seconds a replica is behind its primary, where the database tells (None on a primary)."""
    replicas: tuple[dict[str, Any], ...] = ()
    """The read replicas (``replicas=[...]``): replica, status (ok, lagging, not replicating, down), lag, error."""
    prepared_transactions: tuple[dict[str, Any], ...] = ()
    """Prepared (two-phase) transactions older than the threshold: gid, owner, database, age."""
    pending_migrations: list[str] | None = None
    """Steps that would bring the live schema to the models (``db.migrator.plan()``), described;
    ``[]`` when none; None when the dialect cannot read its schema or the server is down."""
    problems: tuple[str, ...] = ()
    error: str | None = None
    checked_at: float = attrs.field(factory=time.time)

    @property
    def healthy(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "healthy": self.healthy}


async def check(db: Any, *, timeout: float, prepared_age: float) -> HealthReport:
    """Check ``db`` once; never raises for a database that is down or slow."""
    dialect = db.dialect.name
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            pool = await db.pool()
            connection = await pool.acquire()
            discard = True
            try:
                await connection.fetch("SELECT 1")
                round_trip = time.perf_counter() - started
                version = await db.dialect.server_version(connection)
                discard = False
                try:
                    prepared, lag = await _server_details(dialect, connection, prepared_age)
                    unknown = None
                except Exception as exc:  # noqa: BLE001 - reachable all the same; say what could not be read
                    prepared, lag, unknown = [], None, f"{type(exc).__name__}: {exc}"
                    discard = db.dialect.name == "postgresql"  # an aborted read may leave it in a failed state
            finally:
                await pool.release(connection, discard=discard)
    except Exception as exc:  # noqa: BLE001 - any failure to reach the database is "down"
        error = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
        if isinstance(exc, TimeoutError):
            error = f"no answer within {timeout:g}s"
        return HealthReport(db.label, dialect, "down", pool=pool_state(db), error=error)
    pending, plan_error = await _pending_migrations(db, timeout)
    replicas = [] if db.replicas is None else [attrs.asdict(s) for s in await db.replicas.status(timeout)]
    problems = [describe_replica(r) for r in replicas if r["status"] != "ok"]
    problems += [
        f"prepared transaction {p['gid']!r} has waited {p['age']:.0f}s for COMMIT/ROLLBACK PREPARED"
        for p in prepared
        if p["age"] is not None
    ]
    if unknown is not None:
        problems.append(f"could not read prepared transactions or replication state: {unknown}")
    if pending:
        problems.append(f"{len(pending)} pending migration step(s): {'; '.join(pending)}")
    if plan_error is not None:
        problems.append(f"could not plan migrations: {plan_error}")
    return HealthReport(
        db.label,
        dialect,
        "degraded" if problems else "ok",
        round_trip=round_trip,
        server_version=version,
        pool=pool_state(db),
        replication_lag=lag,
        replicas=tuple(replicas),
        prepared_transactions=tuple(prepared),
        pending_migrations=pending,
        problems=tuple(problems),
    )


async def _pending_migrations(db: Any, timeout: float) -> tuple[list[str] | None, str | None]:
    """(step descriptions, None), or (None, why) when they could not be read; never raises.

    A dialect that cannot read its live schema (``MigrationError``) has no
    plan: None, and no problem reported.
    """
    try:
        async with asyncio.timeout(timeout):
            plan = await db.migrator.plan()
    except MigrationError:
        return None, None
    except Exception as exc:  # noqa: BLE001 - a health check answers, it does not fail
        if isinstance(exc, TimeoutError):
            return None, f"no answer within {timeout:g}s"
        return None, f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
    return [step.describe() for step in plan.steps], None


async def _server_details(dialect: str, connection: Any, prepared_age: float) -> tuple[list[dict[str, Any]], Any]:
    if dialect == "postgresql":
        rows: Sequence[Sequence[Any]] = await connection.fetch(POSTGRES_PREPARED, [float(prepared_age)])
        prepared = [{"gid": r[0], "owner": r[1], "database": r[2], "age": float(r[3])} for r in rows]
        lag = (await connection.fetch(POSTGRES_REPLICATION_LAG))[0][0]
        return prepared, float(lag) if lag is not None else None
    if dialect == "mysql":
        # XA RECOVER reports no age. A DataFlow branch id carries its creation time: judged like
        # PostgreSQL's (listed once older than the threshold). Any other id is listed, not judged.
        rows = await connection.fetch("XA RECOVER")
        prepared = []
        for row in rows:
            gid = _xid(row)
            age = branch_age(gid)
            if age is None or age >= prepared_age:
                prepared.append({"gid": gid, "owner": None, "database": None, "age": age})
        return prepared, None
    return [], None


def describe_replica(status: dict[str, Any]) -> str:
    """A problem line for a replica that cannot serve reads (they go to the primary meanwhile)."""
    if status["status"] == "lagging":
        return f"replica {status['replica']} lags {status['lag']:.1f}s behind the primary; reads skip it"
    detail = f": {status['error']}" if status.get("error") else ""
    return f"replica {status['replica']} is {status['status']}{detail}; reads skip it"


def branch_age(gid: str) -> float | None:
    """Seconds since a dataflow-txn branch ``gid`` began (its id says when); None for other ids."""
    try:
        from dataflow_txn.gid import BranchId  # noqa: PLC0415 - dataflow-txn is optional
    except ImportError:  # dataflow-txn is not installed: no branch of ours to recognise
        return None
    branch = BranchId.parse(gid)
    return None if branch is None else max(0.0, time.time() - branch.transaction.created)


def _xid(row: Sequence[Any]) -> str:
    data = row[3] if len(row) > 3 else b""
    return data.decode(errors="replace") if isinstance(data, bytes) else str(data)


class HealthCheck:
    """``db.health`` (typed: ``HealthCheck.of(db)``): ``await db.health()`` or ``db.health.sync()``."""

    def __init__(self, db: DataFlow, monitor: Monitor) -> None:
        self._db = db
        self._monitor = monitor

    @classmethod
    def of(cls, db: DataFlow) -> HealthCheck:
        """``db``'s health check; ``ConfigError`` when dataflow-monitor is not active on it."""
        return db.extensions.require(
            cls,
            "install dataflow-monitor and let the 'monitor' plugin load (DATAFLOW_PLUGINS / DATAFLOW_DISABLE_PLUGINS)",
        )

    async def __call__(self) -> HealthReport:
        settings = self._monitor.settings
        report = await check(self._db, timeout=settings.health_timeout, prepared_age=settings.prepared_transaction_age)
        self._monitor.health_checked(report)
        return report

    def sync(self) -> HealthReport:
        """The same check from synchronous code (on this thread's loop, or a temporary one)."""
        report: HealthReport = run_sync(self.__call__, cleanup=self._db.close_loop)
        return report
