"""``dataflow migrate status | plan | apply | history``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..database import DataFlow
from ..errors import DataFlowError
from .loading import MODELS_HELP, URL_HELP, load_db

T = TypeVar("T")

models_option = click.option("--models", "models", help=MODELS_HELP)
url_option = click.option("--database-url", help=URL_HELP)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
rename_option = click.option(
    "--rename", "renames", multiple=True, metavar="MODEL.OLD=NEW", help="A column that was renamed, not dropped."
)


def run(db: DataFlow, action: Callable[[], Awaitable[T]]) -> T:
    """Run ``action`` on a fresh loop and close the database; DataFlow errors become CLI errors."""

    async def main() -> T:
        try:
            return await action()
        finally:
            await db.close_async()

    try:
        return asyncio.run(main())
    except DataFlowError as exc:
        raise click.ClickException(exc.message) from exc


@click.group("migrate")
def migrate() -> None:
    """Compare the models with the database and bring the database to them."""


@migrate.command("status")
@models_option
@url_option
@json_option
def status(models: str | None, database_url: str | None, as_json: bool) -> None:
    """Pending steps and the last applied migration; exits 1 when steps are pending."""
    db = load_db(models, database_url)

    async def read() -> tuple[Any, list[dict[str, Any]]]:
        return await db.migrator.plan(), await db.migrator.history()

    plan, history = run(db, read)
    pending = [step.describe() for step in plan.steps]
    if as_json:
        last = history[-1] if history else None
        latest = last and {"name": last["name"], "applied_at": str(last["applied_at"])}
        click.echo(json.dumps({"database": db.label, "pending": pending, "applied": len(history), "last": latest}))
    else:
        click.echo(f"database: {db.label}")
        click.echo(f"applied migrations: {len(history)}")
        click.echo("up to date" if not pending else f"{len(pending)} pending step(s):")
        for line in pending:
            click.echo(f"  {line}")
    raise SystemExit(1 if pending else 0)


@migrate.command("plan")
@models_option
@url_option
@rename_option
@json_option
def plan(models: str | None, database_url: str | None, renames: tuple[str, ...], as_json: bool) -> None:
    """Print the steps and SQL that `apply` would run (nothing is changed)."""
    db = load_db(models, database_url)
    if as_json:
        result = run(db, lambda: db.migrator.plan(renames))
        steps = [{"step": s.describe(), "destructive": s.destructive} for s in result.steps]
        click.echo(json.dumps({"steps": steps, "notes": list(result.notes)}))
        return
    text = run(db, lambda: db.migrator.render(renames))
    click.echo(text or "-- up to date: nothing to do")


@migrate.command("make")
@click.argument("name")
@models_option
@url_option
@rename_option
@click.option("--directory", default="migrations", show_default=True, type=click.Path(path_type=Path))
def make(name: str, models: str | None, database_url: str | None, renames: tuple[str, ...], directory: Path) -> None:
    """Write the current plan as the next file in the migrations directory, for review."""
    db = load_db(models, database_url)
    path = run(db, lambda: db.migrator.make_file(directory, name, renames))
    click.echo("up to date: nothing to write" if path is None else f"wrote {path}")


@migrate.command("apply")
@models_option
@url_option
@rename_option
@click.option("--allow-destructive", is_flag=True, help="Also run steps that drop or narrow (after review).")
@click.option(
    "--directory", type=click.Path(path_type=Path), help="Apply the migration files there instead of the live plan."
)
@json_option
def apply(
    models: str | None,
    database_url: str | None,
    renames: tuple[str, ...],
    allow_destructive: bool,
    directory: Path | None,
    as_json: bool,
) -> None:
    """Apply the plan (or the migration files) under the migration lock, and record it in dataflow_migrations."""
    db = load_db(models, database_url)
    if directory is not None:
        names = run(db, lambda: db.migrator.apply_files(directory))
        if as_json:
            click.echo(json.dumps({"applied": names}))
        else:
            for file_name in names:
                click.echo(f"applied {file_name}")
            click.echo(f"{len(names)} file(s) applied" if names else "up to date: every file is applied")
        return
    applied = run(db, lambda: db.migrator.apply(allow_destructive=allow_destructive, renames=renames))
    if as_json:
        click.echo(
            json.dumps(None if applied is None else {"steps": list(applied.steps), "checksum": applied.checksum})
        )
        return
    if applied is None:
        click.echo("up to date: nothing to do")
        return
    for number, step in enumerate(applied.steps, 1):
        click.echo(f"[{number}/{len(applied.steps)}] {step}")
    click.echo(f"applied {len(applied.steps)} step(s); checksum {applied.checksum[:12]}")


@migrate.command("history")
@models_option
@url_option
@json_option
def history(models: str | None, database_url: str | None, as_json: bool) -> None:
    """What was applied, when and by whom."""
    db = load_db(models, database_url)
    entries = run(db, db.migrator.history)
    if as_json:
        fields = ("id", "name", "checksum", "applied_at", "applied_by", "statements")
        click.echo(json.dumps([{k: str(e[k]) if k == "applied_at" else e[k] for k in fields} for e in entries]))
        return
    if not entries:
        click.echo("no migrations applied")
    for entry in entries:
        click.echo(f"{entry['id']:>4}  {entry['applied_at']:%Y-%m-%d %H:%M:%S}  {entry['applied_by']}  {entry['name']}")
