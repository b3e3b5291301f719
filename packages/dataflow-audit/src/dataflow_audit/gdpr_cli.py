"""``dataflow gdpr``: a subject's export, and the retention rules.

dataflow gdpr export --models app.models:db --subject Customer:7 [--tenant acme]
dataflow gdpr retention --models app.models:db [--dry-run] [--batch 500]
"""

from __future__ import annotations

import json

import click

from dataflow.commands.loading import MODELS_HELP, URL_HELP, load_db
from dataflow.errors import DataFlowError
from dataflow.fields import FieldKind

from .gdpr import Gdpr

models_option = click.option("--models", "models", help=MODELS_HELP)
url_option = click.option("--database-url", help=URL_HELP)
tenant_option = click.option("--tenant", help="Run for this tenant only (models with tenancy).")


@click.group(help="Data subjects: export their data, apply retention rules.")
def gdpr() -> None:
    pass


@gdpr.command(help="One JSON document: the subject's record, every record tied to it, and their history.")
@models_option
@url_option
@click.option("--subject", required=True, help="Model:id of the data subject, e.g. Customer:7.")
@tenant_option
def export(models: str | None, database_url: str | None, subject: str, tenant: str | None) -> None:
    model, sep, key = subject.partition(":")
    if not sep or not model or not key:
        raise click.BadParameter(f"{subject!r} must look like Model:id, e.g. Customer:7", param_hint="--subject")
    db = load_db(models, database_url)
    try:
        service = db.extensions.require(Gdpr, "install dataflow-audit")
        context = {"tenant": tenant} if tenant else {}
        pk = db.schema(model).pk
        typed: object = key
        if pk.kind is FieldKind.INT:
            if not key.lstrip("-").isdigit():
                raise click.BadParameter(f"{model}'s key is a whole number, got {key!r}", param_hint="--subject")
            typed = int(key)
        document = service.export(model, pk.validate(typed, model), **context)
    except DataFlowError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.close()
    click.echo(json.dumps(document, indent=2))


@gdpr.command(help="Delete or anonymize the records past their model's retention rule, in batches.")
@models_option
@url_option
@click.option("--dry-run", is_flag=True, help="Only count the records that are due.")
@click.option("--batch", default=500, show_default=True, help="Records per transaction.")
@tenant_option
def retention(models: str | None, database_url: str | None, dry_run: bool, batch: int, tenant: str | None) -> None:
    db = load_db(models, database_url)
    try:
        service = db.extensions.require(Gdpr, "install dataflow-audit")
        context = {"tenant": tenant} if tenant else {}
        report = service.retention(dry_run=dry_run, batch=batch, **context)
    except DataFlowError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.close()
    if not report:
        click.echo("no model has a retention rule")
    for count in report:
        done = "would be" if dry_run else f"{count.done}"
        click.echo(f"{count.model}: {count.due} due, {done} {count.action}d")
