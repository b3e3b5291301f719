"""Finding the user's code from the command line: ``--models module:attribute`` and modules to import."""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Any

import click

from ..database import DataFlow
from ..errors import DataFlowError
from ..schema import suggest

MODELS_HELP = "Where the models are: 'module:attribute' naming a DataFlow instance (default: $DATAFLOW_MODELS)."
URL_HELP = "Use this database instead of the instance's own (default: $DATAFLOW_DATABASE_URL or the instance's)."

_ABSENT = object()


def import_user_module(name: str, option: str) -> ModuleType:
    """Import ``name`` the way ``python -m`` would from the working directory.

    The ``dataflow`` script does not put the working directory on the path
    (console scripts never do), yet users run it next to their code. A module
    that cannot be imported is a one-line ``click.ClickException`` naming
    ``option``, never a traceback.
    """
    here = os.getcwd()
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise click.ClickException(
                f"{option} {name!r}: cannot import {name!r}: there is no module {exc.name!r} in the working "
                f"directory ({here}) or on the Python path"
            ) from None
        raise click.ClickException(f"{option} {name!r}: cannot import {name!r}: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # any failure of the user's module is reported, in one line
        raise click.ClickException(f"{option} {name!r}: cannot import {name!r}: {type(exc).__name__}: {exc}") from exc


def models_spec(models: str | None) -> str | None:
    """``--models``, else ``$DATAFLOW_MODELS``, else None."""
    return models or os.environ.get("DATAFLOW_MODELS") or None


def load_db(models: str | None, database_url: str | None) -> DataFlow:
    """Import ``module:attribute`` and return its DataFlow, moved to ``database_url`` when given."""
    spec = models_spec(models)
    if not spec:
        raise click.UsageError("say where the models are: --models module:attribute (or set DATAFLOW_MODELS)")
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise click.UsageError(f"--models {spec!r} must look like 'module:attribute', e.g. 'app.models:db'")
    module = import_user_module(module_name, "--models")
    found: Any = getattr(module, attribute, _ABSENT)
    if not isinstance(found, DataFlow):
        raise click.ClickException(_not_a_dataflow(spec, module, attribute, found))
    if not database_url:
        return found
    # The same models on another database: register the model classes on a new instance.
    try:
        moved = DataFlow(database_url, env=found.config.env)
        for cls in found.model_classes():
            moved.model(cls)
    except DataFlowError as exc:
        raise click.ClickException(f"--database-url: {exc.message}") from exc
    return moved


def _not_a_dataflow(spec: str, module: ModuleType, attribute: str, found: Any) -> str:
    """Why ``module.attribute`` is no DataFlow, and which attributes of ``module`` are."""
    instances = sorted(name for name, value in vars(module).items() if isinstance(value, DataFlow))
    has = (
        f"its DataFlow instances: {', '.join(instances)}"
        if instances
        else f"{module.__name__} defines no DataFlow instance"
    )
    if found is _ABSENT:
        public = instances or [name for name in vars(module) if not name.startswith("_")]
        return f"--models {spec!r}: {module.__name__} has no attribute {attribute!r}{suggest(attribute, public)}; {has}"
    kind = "None" if found is None else type(found).__name__
    return f"--models {spec!r}: {module.__name__}.{attribute} is {kind}, not a DataFlow instance; {has}"
