"""``dataflow txn``: recovery of two-phase transactions and sagas from the command line.

    dataflow txn recover --app myapp.transactions
    dataflow txn recover --coordinator shop --log postgresql://.../orders \\
        --participant orders='$ORDERS_URL' --participant stock='$STOCK_URL'

``--app`` imports modules that define the coordinators and sagas (as the
application does at startup) and recovers all of them. Without it, the
coordinator is described by its name, its log database and its participants;
that is enough for two-phase commit, whose recovery needs no application
code (sagas need their definitions, so they need ``--app``). A URL written
``$NAME`` is read from that environment variable, to keep passwords out of
process listings. The exit status is 1 when anything could not be resolved.

    dataflow txn purge --database-url '$ORDERS_URL' --older-than 30d

deletes finished sagas and idempotency markers older than the age (see
:mod:`dataflow_txn.retention`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import timedelta
from typing import Any

import attrs
import click

from dataflow import DataFlow
from dataflow.commands.loading import MODELS_HELP, import_user_module, load_db
from dataflow.database import live_instances
from dataflow.errors import DataFlowError

from .coordinator import TwoPhaseCoordinator, live_coordinators
from .retention import BATCH_SIZE, RetentionReport, purge_history
from .saga import SagaService


def _url(text: str) -> str:
    if text.startswith("$"):
        value = os.environ.get(text[1:])
        if not value:
            raise click.BadParameter(f"environment variable {text[1:]} is not set")
        return value
    return text


async def _recover(
    apps: tuple[str, ...],
    coordinator: str | None,
    log_url: str | None,
    participants: tuple[str, ...],
    older_than: float,
) -> dict[str, Any]:
    opened: list[DataFlow] = []
    report: dict[str, Any] = {"two_phase": {}, "sagas": {}}
    try:
        coordinators: list[TwoPhaseCoordinator] = []
        if coordinator is not None:
            if log_url is None:
                raise click.UsageError("--coordinator needs --log (the URL of its log database)")
            log_db = DataFlow(_url(log_url))
            opened.append(log_db)
            named: dict[str, DataFlow] = {}
            for item in participants:
                name, sep, url = item.partition("=")
                if not sep:
                    raise click.BadParameter(f"--participant takes NAME=URL, got {item!r}")
                db = DataFlow(_url(url))
                opened.append(db)
                named[name] = db
            coordinators.append(TwoPhaseCoordinator(coordinator, log=log_db, participants=named))
        for module in apps:
            import_user_module(module, "--app")
        if apps:
            coordinators.extend(c for c in live_coordinators() if c not in coordinators)
        for each in coordinators:
            done = await each.recover(older_than=older_than)
            report["two_phase"][each.name] = attrs.asdict(done)
        if apps:
            for db in live_instances():
                service = db.extensions.get(SagaService)
                if service is not None and service.names:
                    sagas = await service.recover(older_than=older_than)
                    report["sagas"][db.label] = attrs.asdict(sagas)
    finally:
        for db in opened:
            await db.close_async()
    return report


def _failed(report: dict[str, Any]) -> bool:
    two_phase = any(
        r["errors"] or any("could not" in why for why in r["left"].values()) for r in report["two_phase"].values()
    )
    sagas = any(r["failed"] or r["unknown"] for r in report["sagas"].values())
    return two_phase or sagas


def _print(report: dict[str, Any]) -> None:
    for name, result in report["two_phase"].items():
        click.echo(
            f"2pc {name}: committed {len(result['committed'])}, rolled back {len(result['rolled_back'])}, "
            f"finished {len(result['finished'])}, left {len(result['left'])}"
        )
        for branch, why in result["left"].items():
            click.echo(f"    left {branch}: {why}")
        for participant, why in result["errors"].items():
            click.echo(f"    error on {participant}: {why}", err=True)
    for label, result in report["sagas"].items():
        click.echo(
            f"sagas {label}: completed {len(result['completed'])}, compensated {len(result['compensated'])}, "
            f"failed {len(result['failed'])}, left {len(result['left'])}, unknown {len(result['unknown'])}"
        )
        for saga_id, why in result["failed"].items():
            click.echo(f"    failed {saga_id}: {why}", err=True)
    if not report["two_phase"] and not report["sagas"]:
        click.echo("nothing to recover: no coordinator or saga was defined (use --app, or --coordinator and --log)")


@click.group("txn", help="Distributed transactions and sagas.")
def txn() -> None:
    pass


@txn.command("recover")
@click.option("--app", "apps", multiple=True, help="Import this module (it defines coordinators and sagas).")
@click.option("--coordinator", help="The coordinator's name, for recovery without --app.")
@click.option("--log", "log_url", help="URL of the coordinator's log database ($VAR reads an environment variable).")
@click.option("--participant", "participants", multiple=True, help="NAME=URL of a participant; repeat for each.")
@click.option("--older-than", default=30.0, show_default=True, help="Leave undecided branches younger than this (s).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def recover_command(
    apps: tuple[str, ...],
    coordinator: str | None,
    log_url: str | None,
    participants: tuple[str, ...],
    older_than: float,
    as_json: bool,
) -> None:
    """Commit or roll back in-doubt two-phase transactions, and finish or compensate abandoned sagas."""
    report = asyncio.run(_recover(apps, coordinator, log_url, participants, older_than))
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print(report)
    if _failed(report):
        raise SystemExit(1)


DURATION_PART = re.compile(r"(\d+)([smhdw])")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """A length of time: whole numbers with units, ``30d``, ``12h``, ``90m``, ``45s``, ``2w``, ``1d12h``.

    Raises ``click.BadParameter`` saying what is wrong, so click reports it against the option.
    """
    text = text.strip()
    if text.startswith("-"):
        raise click.BadParameter(f"{text!r}: the age must be more than zero")
    parts = DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise click.BadParameter(
            f"{text!r} is not a duration: write a whole number and a unit (s, m, h, d or w), e.g. 30d, 12h, 90m"
        )
    try:
        age = sum((timedelta(**{DURATION_UNITS[unit]: int(number)}) for number, unit in parts), timedelta())
    except OverflowError:
        raise click.BadParameter(f"{text!r} is too long") from None
    if age <= timedelta(0):
        raise click.BadParameter(f"{text!r}: the age must be more than zero")
    return age


def format_duration(age: timedelta) -> str:
    """``age`` in the form :func:`parse_duration` reads: ``30d``, ``1d12h``, ``1h30m`` (for 90 minutes)."""
    seconds = int(age.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _duration_option(ctx: click.Context, param: click.Parameter, value: str) -> timedelta:
    return parse_duration(value)


def _database(models: str | None, database_url: str | None) -> DataFlow:
    """``--database-url`` (or ``$DATAFLOW_DATABASE_URL``), else the instance ``--models`` names."""
    if database_url:
        return DataFlow(_url(database_url))
    if models or os.environ.get("DATAFLOW_MODELS"):
        return load_db(models, None)
    if os.environ.get("DATAFLOW_DATABASE_URL"):
        return DataFlow(os.environ["DATAFLOW_DATABASE_URL"])
    raise click.UsageError("say which database: --database-url URL (or $DATAFLOW_DATABASE_URL), or --models module:db")


async def _purge(db: DataFlow, logs: list[DataFlow], older_than: timedelta, batch_size: int) -> RetentionReport:
    try:
        return await purge_history(db, older_than=older_than, saga_logs=logs or None, batch_size=batch_size)
    finally:
        for each in (db, *logs):
            await each.close_async()


@txn.command("purge")
@click.option("--database-url", help="Database to purge ($VAR: from the environment; default $DATAFLOW_DATABASE_URL).")
@click.option("--models", "models", help=MODELS_HELP)
@click.option(
    "--older-than", callback=_duration_option, required=True, help="Delete what finished longer ago: 30d, 12h, 90m."
)
@click.option(
    "--saga-log",
    "saga_logs",
    multiple=True,
    help="URL of a database logging sagas whose steps ran here (then their markers are purged too); repeat for each.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=BATCH_SIZE, show_default=True, help="Keys per batch.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def purge_command(
    database_url: str | None,
    models: str | None,
    older_than: timedelta,
    saga_logs: tuple[str, ...],
    batch_size: int,
    as_json: bool,
) -> None:
    """Delete finished sagas (with their steps) and idempotency markers older than --older-than.

    Sagas still running or compensating are never deleted, however old.
    """
    try:
        db = _database(models, database_url)
        logs = [DataFlow(_url(url)) for url in saga_logs]
        report = asyncio.run(_purge(db, logs, older_than, batch_size))
    except DataFlowError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        click.echo(json.dumps({"database": db.label, "older_than": older_than.total_seconds(), **attrs.asdict(report)}))
        return
    click.echo(
        f"{db.label}: deleted {report.sagas} sagas, {report.saga_steps} saga steps "
        f"and {report.idempotency_keys} idempotency keys older than {format_duration(older_than)}"
    )
