"""``dataflow audit``: verify the trail, and read one record's history.

    dataflow audit verify --models app.models:db
    dataflow audit log --models app.models:db --model User --id 7 [--actor alice] [--operation update]
        [--since 2026-01-01T00:00:00] [--until ...] [--json]

``verify`` exits with status 1 and names the first bad entry when the trail does not hold.
"""

from __future__ import annotations

import datetime as dt
import json

import click

from dataflow.commands.loading import MODELS_HELP, URL_HELP, load_db
from dataflow.errors import DataFlowError

from .service import Audit

models_option = click.option("--models", "models", help=MODELS_HELP)
url_option = click.option("--database-url", help=URL_HELP)


@click.group(help="The audit trail: verify its hash chains, read a record's history.")
def audit() -> None:
    pass


@audit.command(help="Recompute every hash chain; name the first entry that was edited, deleted, inserted or moved.")
@models_option
@url_option
def verify(models: str | None, database_url: str | None) -> None:
    db = load_db(models, database_url)
    try:
        result = Audit.of(db).verify()
    except DataFlowError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.close()
    click.echo(str(result))
    if not result.ok:
        raise SystemExit(1)


@audit.command(help="A record's audit entries, newest first.")
@models_option
@url_option
@click.option("--model", required=True, help="The model name, e.g. User.")
@click.option("--id", "key", required=True, help="The record's primary key.")
@click.option("--actor", help="Only entries by this actor.")
@click.option("--operation", type=click.Choice(["create", "update", "delete"]), help="Only this kind of change.")
@click.option("--since", type=click.DateTime(), help="Only entries at or after this time (UTC).")
@click.option("--until", type=click.DateTime(), help="Only entries at or before this time (UTC).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of lines.")
def log(
    models: str | None,
    database_url: str | None,
    model: str,
    key: str,
    actor: str | None,
    operation: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    as_json: bool,
) -> None:
    db = load_db(models, database_url)
    try:
        entries = Audit.of(db).history(model, key, actor=actor, operation=operation, since=since, until=until)
    except DataFlowError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps([e.as_dict() for e in entries], indent=2, default=str))
        return
    if not entries:
        click.echo(f"no audit entries for {model} {key}")
    for e in entries:
        fields = ", ".join(f"{name}: {before!r} -> {after!r}" for name, (before, after) in sorted(e.changes.items()))
        click.echo(f"{e.at.isoformat()} {e.operation} by {e.actor or '-'} (run {e.run_id}, node {e.node_id}): {fields}")
