"""The three HTTP servers bench_gateway.py compares, each an ASGI factory uvicorn runs in its own process.

All three serve ``GET /api/item/{id}`` and ``POST /api/item`` over the same
table shape (in their own PostgreSQL schema, named by ``BENCH_URL``'s
``schema`` option / ``BENCH_SCHEMA``), with a pool of the same size:

- ``dataflow_app``: the DataFlow gateway (``create_gateway``), nothing tuned;
- ``starlette_app``: a hand-written Starlette endpoint on an asyncpg pool,
  checking the body's fields and types as any real endpoint must;
- ``fastapi_app``: FastAPI with pydantic models over the SQLAlchemy 2 async ORM,
  one session per request, the way its tutorials write it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

POOL_SIZE = 10
FIELDS = {"sku": str, "name": str, "qty": int, "price": float, "active": bool}


def _url() -> str:
    return os.environ["BENCH_URL"]


def _schema() -> str:
    return os.environ["BENCH_SCHEMA"]


def dataflow_app() -> Any:
    from common import define

    from dataflow import DataFlow
    from dataflow_gateway import create_gateway

    db = DataFlow(_url(), pool_size=POOL_SIZE)
    define(db)
    return create_gateway(db, docs=False)


def starlette_app() -> Any:
    import asyncpg
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    pools: dict[str, asyncpg.Pool] = {}
    columns = "id, sku, name, qty, price, active"

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pools["main"] = await asyncpg.create_pool(
            _url().split("?")[0], min_size=1, max_size=POOL_SIZE, server_settings={"search_path": _schema()}
        )
        yield
        await pools["main"].close()

    def problem(status: int, detail: str) -> Response:
        body = json.dumps({"status": status, "detail": detail})
        return Response(body, status_code=status, media_type="application/problem+json")

    async def read(request: Request) -> Response:
        text = request.path_params["id"]
        if not text.isdigit():
            return problem(404, "no such item")
        row = await pools["main"].fetchrow(f"SELECT {columns} FROM item WHERE id = $1", int(text))
        if row is None:
            return problem(404, "no such item")
        return JSONResponse(dict(row))

    async def create(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return problem(400, "not JSON")
        if not isinstance(body, dict) or set(body) - set(FIELDS):
            return problem(422, "unknown fields")
        for name, kind in FIELDS.items():
            if not isinstance(body.get(name), kind):
                return problem(422, f"{name} is missing or not a {kind.__name__}")
        row = await pools["main"].fetchrow(
            f"INSERT INTO item (sku, name, qty, price, active) VALUES ($1, $2, $3, $4, $5) RETURNING {columns}",
            *(body[name] for name in FIELDS),
        )
        assert row is not None
        return JSONResponse(dict(row), status_code=201, headers={"Location": f"/api/item/{row['id']}"})

    routes = [Route("/api/item/{id}", read, methods=["GET"]), Route("/api/item", create, methods=["POST"])]
    return Starlette(routes=routes, lifespan=lifespan)


def fastapi_app() -> Any:
    # SQLAlchemy reads the mapped annotations at class creation: its module must not defer them.
    from gateway_fastapi import app

    return app()
