"""503 with Retry-After when the database cannot serve: a server that is not there, a pool with no free connection."""

from __future__ import annotations

import asyncio

import httpx2
import pytest
from starlette.testclient import TestClient

from dataflow import DataFlow
from dataflow.express import transaction
from dataflow_gateway import create_gateway

# Port 1 on loopback: nothing listens there, so every connection attempt is refused at once.
UNREACHABLE = {"postgres": "postgresql://postgres@127.0.0.1:1/test", "mysql": "mysql://root@127.0.0.1:1/test"}


def define_item(db: DataFlow) -> None:
    @db.model
    class Item:
        name: str


def assert_unavailable(response: httpx2.Response) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"].isdigit()
    body = response.json()
    assert body["status"] == 503 and body["title"] == "Service Unavailable"
    # Nothing of the driver's text reaches the client: no address, no errno, no exception name.
    assert "127.0.0.1" not in response.text and "refused" not in response.text.lower()
    assert "Error" not in body["detail"]


@pytest.mark.parametrize("backend", sorted(UNREACHABLE))
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/api/item", None), ("GET", "/api/item/1", None), ("POST", "/api/item", {"name": "lamp"})],
)
def test_an_unreachable_database_server_is_a_503_with_retry_after(
    backend: str, method: str, path: str, body: object
) -> None:
    db = DataFlow(UNREACHABLE[backend], env="test")
    define_item(db)
    try:
        with TestClient(create_gateway(db)) as http:
            assert_unavailable(http.request(method, path, json=body))
    finally:
        db.close()


def test_a_pool_with_no_free_connection_is_a_503_and_nothing_is_written(any_database_url: str) -> None:
    async def body() -> None:
        db = DataFlow(any_database_url, env="test", pool_size=1, pool_timeout=0.2)
        define_item(db)
        transport = httpx2.ASGITransport(app=create_gateway(db))
        try:
            async with httpx2.AsyncClient(transport=transport, base_url="http://gateway") as http:
                assert (await http.post("/api/item", json={"name": "first"})).status_code == 201
                async with transaction(db):  # holds the pool's only connection
                    assert_unavailable(await http.post("/api/item", json={"name": "second"}))
                    assert_unavailable(await http.get("/api/item"))
                listed = (await http.get("/api/item")).json()
                assert [r["name"] for r in listed["records"]] == ["first"]
        finally:
            await db.close_async()

    asyncio.run(body())
