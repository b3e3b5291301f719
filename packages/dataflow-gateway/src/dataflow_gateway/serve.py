"""The application factory ``dataflow serve`` gives uvicorn: one gateway per worker process."""

from __future__ import annotations

import os

from .app import Gateway, create_gateway


def app() -> Gateway:
    return create_gateway(
        models=os.environ.get("DATAFLOW_MODELS"),
        database_url=os.environ.get("DATAFLOW_GATEWAY_DATABASE_URL"),
        prefix=os.environ.get("DATAFLOW_GATEWAY_PREFIX", "/api"),
    )
