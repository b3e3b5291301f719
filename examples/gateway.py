"""A REST API for a model in a dozen lines: create_gateway, then uvicorn (or any ASGI server).

    python -m pip install ./packages/dataflow-core ./packages/dataflow-sqlite ./packages/dataflow-gateway
    python examples/gateway.py           # serves http://127.0.0.1:8000/api/book; explorer at /api/docs

With ``--check`` it does not listen: it sends a few requests in-process and
prints the answers, which is what the example's test runs.
"""

from __future__ import annotations

import sys

from dataflow import DataFlow
from dataflow_gateway import Principal, api_key_auth, create_gateway

db = DataFlow()  # DATAFLOW_DATABASE_URL, else ./dataflow.db


@db.model
class Book:
    title: str
    year: int
    __dataflow__ = {"unique": [("title",)]}


app = create_gateway(db, authenticate=api_key_auth({"dev-key": Principal("dev")}))

if __name__ == "__main__":
    if "--check" not in sys.argv:
        import uvicorn

        uvicorn.run(app, host="127.0.0.1", port=8000)
    else:
        from starlette.testclient import TestClient

        with TestClient(app, headers={"X-API-Key": "dev-key"}) as client:
            client.post("/api/book/upsert", json={"title": "Dune", "year": 1965, "conflict_on": ["title"]})
            print("list:", client.get("/api/book", params={"year[$lt]": "2000"}).json()["records"][0]["title"])
            print("missing:", client.get("/api/book/999999").json()["status"])
            print("no key:", client.get("/api/book", headers={"X-API-Key": ""}).status_code)
        db.close()
