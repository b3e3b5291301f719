"""dataflow-gateway's plugin: the ``dataflow serve`` command."""

from __future__ import annotations

import os

import click
import uvicorn

from dataflow import hookimpl
from dataflow.commands.loading import MODELS_HELP, URL_HELP
from dataflow.registers import CommandRegister, ModelOptionRegister

MODELS_VARIABLE = "DATAFLOW_MODELS"
APP_VARIABLE = "DATAFLOW_GATEWAY_APP"


@click.command("serve")
@click.option("--models", help=MODELS_HELP)
@click.option(
    "--app",
    "app_spec",
    help="Serve this gateway instead: 'module:attribute' naming a Gateway (from create_gateway, with its "
    "workflows and authentication), or a function that returns one.",
)
@click.option("--database-url", help=URL_HELP)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1), help="Worker processes, each with its own pools."
)
@click.option("--prefix", default="/api", show_default=True)
def serve(
    models: str | None, app_spec: str | None, database_url: str | None, host: str, port: int, workers: int, prefix: str
) -> None:
    """Serve the models (and their workflows) as a REST API with uvicorn."""
    if app_spec:
        if models or database_url:
            raise click.UsageError("--app serves a gateway as built: give it alone, without --models or --database-url")
        if ":" not in app_spec.strip(":"):
            raise click.UsageError(f"--app {app_spec!r} must look like 'module:attribute', e.g. 'service.api:gateway'")
        os.environ[APP_VARIABLE] = app_spec
    if models:
        os.environ[MODELS_VARIABLE] = models
    if database_url:
        os.environ["DATAFLOW_GATEWAY_DATABASE_URL"] = database_url
    os.environ["DATAFLOW_GATEWAY_PREFIX"] = prefix
    # Each worker process imports the models and opens its own pools: the app is made by a factory.
    uvicorn.run("dataflow_gateway.serve:app", factory=True, host=host, port=port, workers=workers, log_level="info")


@hookimpl
def dataflow_register_commands(register: CommandRegister) -> None:
    register(serve)


@hookimpl
def dataflow_register_model_options(register: ModelOptionRegister) -> None:
    register("api", "how dataflow-gateway serves the model: {'path', 'operations', 'hidden', 'read_only'}")
