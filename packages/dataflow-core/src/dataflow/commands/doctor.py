"""``dataflow doctor``: is everything in order? Exits 1 when something is wrong."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import attrs
import click

from ..database import DataFlow
from ..errors import DataFlowError
from ..plugins import plugin_host
from .loading import MODELS_HELP, load_db, models_spec

DOCTOR_URL_HELP = (
    "The database to check (default: $DATAFLOW_DATABASE_URL, or the instance --models names). "
    "Without --models, everything but pending migrations is checked."
)
NEEDS_MODELS = "pending migrations not checked: they need the models (--models module:attribute)"


def _database(models: str | None, database_url: str | None) -> tuple[DataFlow, bool]:
    """The instance to check, and whether it carries the application's models."""
    if models_spec(models):
        return load_db(models, database_url), True
    url = database_url or os.environ.get("DATAFLOW_DATABASE_URL")
    if not url:
        raise click.UsageError(
            "say which database: --database-url URL (or $DATAFLOW_DATABASE_URL), "
            "or --models module:attribute to check pending migrations too"
        )
    try:
        return DataFlow(url), False
    except DataFlowError as exc:
        raise click.ClickException(f"--database-url: {exc.message}") from exc


async def _check(db: DataFlow, with_models: bool, report: dict[str, Any]) -> None:
    try:
        async with db.migrator.session() as session:
            report["server_version"] = await db.dialect.server_version(session.connection)
    except DataFlowError as exc:
        report["problems"].append(f"cannot connect: {exc.message}")
        return
    if db.replicas is not None:
        report["replicas"] = [attrs.asdict(status) for status in await db.replicas.status(timeout=10.0)]
        for status in report["replicas"]:
            if status["status"] != "ok":
                report["problems"].append(f"replica {status['replica']} is {status['status']}: {status['error'] or ''}")
    report["capabilities"] = {
        k: sorted(v) if isinstance(v, frozenset) else v for k, v in attrs.asdict(db.dialect.capabilities).items()
    }
    if not with_models:
        report["pending_migrations"] = None
        report["notes"].append(NEEDS_MODELS)
        return
    try:
        plan = await db.migrator.plan()
    except DataFlowError as exc:
        report["pending_migrations"] = None
        report["notes"].append(f"migrations: {exc.message}")
        return
    report["pending_migrations"] = [step.describe() for step in plan.steps]
    if plan.steps:
        report["problems"].append(f"{len(plan.steps)} pending migration step(s): run `dataflow migrate plan`")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def _print(report: dict[str, Any]) -> None:
    click.echo(f"database: {report['database']} ({report['dialect']})")
    if "server_version" in report:
        click.echo(f"server: {report['server_version']}")
    for status in report.get("replicas", ()):
        lag = f", lag {status['lag']:.1f}s" if status["lag"] is not None else ""
        click.echo(f"replica: {status['replica']} ({status['status']}{lag})")
    if "capabilities" in report:
        click.echo("capabilities:")
        for name, value in report["capabilities"].items():
            click.echo(f"    {name}: {_shown(value)}")
    click.echo("plugins:" if report["plugins"] else "plugins: none loaded")
    for plugin in report["plugins"]:
        origin = f"{plugin['distribution']} {plugin['version']}" if plugin["distribution"] else "registered in process"
        click.echo(f"    {plugin['name']} ({origin})")
    if report.get("pending_migrations"):
        click.echo("pending migrations:")
        for step in report["pending_migrations"]:
            click.echo(f"    {step}")
    for note in report["notes"]:
        click.echo(f"note: {note}")
    for problem in report["problems"]:
        click.echo(f"problem: {problem}")
    click.echo("all good" if not report["problems"] else f"{len(report['problems'])} problem(s)")


@click.command("doctor")
@click.option("--models", "models", help=MODELS_HELP)
@click.option("--database-url", help=DOCTOR_URL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def doctor(models: str | None, database_url: str | None, as_json: bool) -> None:
    """Check connectivity, server version, capabilities, plugins and (with --models) pending migrations."""
    db, with_models = _database(models, database_url)
    report: dict[str, Any] = {"database": db.label, "dialect": db.dialect.name, "problems": [], "notes": []}

    async def main() -> None:
        try:
            await _check(db, with_models, report)
        finally:
            await db.close_async()

    asyncio.run(main())
    host = plugin_host()
    report["plugins"] = [
        {"name": info.name, "distribution": info.distribution, "version": info.version} for info in host.info()
    ]
    for problem in dict.fromkeys(host.problems):
        report["problems"].append(f"plugin {problem.plugin!r} failed in {problem.where}: {problem.error}")
    if as_json:
        click.echo(json.dumps(report, default=str))
    else:
        _print(report)
    raise SystemExit(1 if report["problems"] else 0)
