"""The application factory ``dataflow serve`` gives uvicorn: one gateway per worker process.

Each worker imports the user's module itself, so each opens its own pools.
"""

from __future__ import annotations

import os
from typing import Any

from dataflow.commands.loading import import_user_module
from dataflow.errors import ConfigError

from .app import Gateway, create_gateway


def app() -> Gateway:
    spec = os.environ.get("DATAFLOW_GATEWAY_APP")
    if spec:
        return _named_gateway(spec)
    return create_gateway(
        models=os.environ.get("DATAFLOW_MODELS"),
        database_url=os.environ.get("DATAFLOW_GATEWAY_DATABASE_URL"),
        prefix=os.environ.get("DATAFLOW_GATEWAY_PREFIX", "/api"),
    )


def _named_gateway(spec: str) -> Gateway:
    """``module:attribute``: a Gateway, or a function of no arguments that returns one."""
    module_name, _, attribute = spec.partition(":")
    found: Any = getattr(import_user_module(module_name, "--app"), attribute, None)
    if callable(found) and not isinstance(found, Gateway):
        found = found()
    if not isinstance(found, Gateway):
        raise ConfigError(
            f"--app {spec!r} names {type(found).__name__}, not a Gateway: point it at create_gateway(...)'s result "
            "or at a function that returns one",
            field="app",
        )
    return found
