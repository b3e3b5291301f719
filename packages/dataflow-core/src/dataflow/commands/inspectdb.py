"""``dataflow inspectdb``: print models for the tables of an existing database."""

from __future__ import annotations

import os
from urllib.parse import quote

import click

from ..database import DataFlow
from ..inspect import read_tables, render_module
from .migrate import run


@click.command("inspectdb")
@click.option("--database-url", help="The database to read (default: $DATAFLOW_DATABASE_URL or $DATABASE_URL).")
@click.option("--tables", help="Only these tables, comma-separated (default: every table).")
@click.option("--schema", help="Read this schema (PostgreSQL; the same as the URL's ?schema= option).")
def inspectdb(database_url: str | None, tables: str | None, schema: str | None) -> None:
    """Print a Python module of DataFlow models for existing tables, to use with --models module:db."""
    url = database_url or os.environ.get("DATAFLOW_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        raise click.UsageError("say which database to read: --database-url URL (or set DATAFLOW_DATABASE_URL)")
    if schema:
        url = _with_option(url, "schema", schema)
    names = [name.strip() for name in (tables or "").split(",") if name.strip()]
    db = DataFlow(url, existing_schema=True)
    editor = db.dialect.schema_editor({})
    live = run(db, lambda: read_tables(db, names))
    click.echo(render_module(live, editor, db.dialect.name), nl=False)


def _with_option(url: str, name: str, value: str) -> str:
    """``url`` with the query option ``name=value`` (the dialect checks that it knows the option)."""
    return f"{url}{'&' if '?' in url else '?'}{name}={quote(value, safe='')}"
