"""Finding the user's ``DataFlow`` instance from ``--models module:attribute``."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from ..database import DataFlow

MODELS_HELP = "Where the models are: 'module:attribute' naming a DataFlow instance (default: $DATAFLOW_MODELS)."
URL_HELP = "Use this database instead of the instance's own (default: $DATAFLOW_DATABASE_URL or the instance's)."


def load_db(models: str | None, database_url: str | None) -> DataFlow:
    """Import ``module:attribute`` and return its DataFlow, moved to ``database_url`` when given."""
    spec = models or os.environ.get("DATAFLOW_MODELS")
    if not spec:
        raise click.UsageError("say where the models are: --models module:attribute (or set DATAFLOW_MODELS)")
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise click.UsageError(f"--models {spec!r} must look like 'module:attribute', e.g. 'app.models:db'")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise click.ClickException(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
    found: Any = getattr(module, attribute, None)
    if not isinstance(found, DataFlow):
        kind = "nothing" if found is None else type(found).__name__
        raise click.ClickException(f"{module_name}.{attribute} is {kind}, not a DataFlow instance")
    if not database_url:
        return found
    # The same models on another database: register the model classes on a new instance.
    moved = DataFlow(database_url, env=found.config.env)
    for cls in found.model_classes():
        moved.model(cls)
    return moved
