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
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
from typing import Any

import attrs
import click

from dataflow import DataFlow


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
    from .coordinator import TwoPhaseCoordinator, live_coordinators
    from .sagas import SagaService

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
            importlib.import_module(module)
        if apps:
            coordinators.extend(c for c in live_coordinators() if c not in coordinators)
        for each in coordinators:
            done = await each.recover(older_than=older_than)
            report["two_phase"][each.name] = attrs.asdict(done)
        if apps:
            from dataflow.database import live_instances

            for db in live_instances():
                service = getattr(db, "sagas", None)
                if isinstance(service, SagaService) and service.names:
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
