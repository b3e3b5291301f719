"""``dataflow doctor``: is everything in order? Exits 1 when something is wrong."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import attrs
import click

from ..errors import DataFlowError
from ..plugins import plugin_host
from .loading import MODELS_HELP, URL_HELP, load_db


@click.command("doctor")
@click.option("--models", "models", help=MODELS_HELP)
@click.option("--database-url", help=URL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def doctor(models: str | None, database_url: str | None, as_json: bool) -> None:
    """Check connectivity, server version, capabilities, pending migrations and plugins."""
    db = load_db(models, database_url)
    report: dict[str, Any] = {"database": db.label, "dialect": db.dialect.name, "problems": []}

    async def check() -> None:
        try:
            async with db.migrator.session() as session:
                report["server_version"] = await db.dialect.server_version(session.connection)
        except DataFlowError as exc:
            report["problems"].append(f"cannot connect: {exc.message}")
            return
        report["capabilities"] = {
            k: sorted(v) if isinstance(v, frozenset) else v for k, v in attrs.asdict(db.dialect.capabilities).items()
        }
        try:
            plan = await db.migrator.plan()
        except DataFlowError as exc:
            report["pending_migrations"] = None
            report["notes"] = [f"migrations: {exc.message}"]
            return
        report["pending_migrations"] = [step.describe() for step in plan.steps]
        if plan.steps:
            report["problems"].append(f"{len(plan.steps)} pending migration step(s): run `dataflow migrate plan`")

    async def main() -> None:
        try:
            await check()
        finally:
            await db.close_async()

    asyncio.run(main())
    for problem in plugin_host().problems:
        report["problems"].append(f"plugin {problem.plugin!r} failed in {problem.where}: {problem.error}")
    if as_json:
        click.echo(json.dumps(report, default=str))
    else:
        click.echo(f"database: {report['database']} ({report['dialect']})")
        if "server_version" in report:
            click.echo(f"server: {report['server_version']}")
        for note in report.get("notes", []):
            click.echo(f"note: {note}")
        for problem in report["problems"]:
            click.echo(f"problem: {problem}")
        click.echo("all good" if not report["problems"] else f"{len(report['problems'])} problem(s)")
    raise SystemExit(1 if report["problems"] else 0)
