"""Input built to break a server: very long URLs and names, keys past any integer column, JSON nested too deep.

Each is a 4xx problem document of bounded size (never a 500, never an echo of
the whole input), and nothing is written.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from dataflow import DataFlow
from dataflow_gateway.problems import MAX_TEXT
from dataflow_gateway.query import MAX_FILTER_DEPTH

LONG = 20_000


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    assert len(response.content) < 4 * MAX_TEXT  # what was sent is quoted at most in part
    body: dict[str, Any] = response.json()
    return body


def customers(db: DataFlow) -> int:
    return int(db.express_sync.count("Customer")["count"])


@pytest.mark.parametrize("key", ["9" * 5000, "9" * 21, "-" + "9" * 30])
def test_a_key_past_any_integer_is_404_not_a_failure(client: TestClient, key: str) -> None:
    assert "integer" in problem(client.get(f"/api/customers/{key}"), 404)["detail"]
    problem(client.patch(f"/api/customers/{key}", json={"name": "x"}), 404)
    problem(client.delete(f"/api/customers/{key}"), 404)


def test_a_very_long_unknown_query_parameter_is_400_quoting_only_its_start(client: TestClient) -> None:
    body = problem(client.get("/api/customers?" + "x" * LONG + "=1"), 400)
    assert body["detail"].startswith("unknown query parameter 'xxx") and len(body["detail"]) <= MAX_TEXT


def test_a_very_long_order_by_is_400(client: TestClient) -> None:
    problem(client.get("/api/customers", params={"order_by": "x" * LONG}), 400)


def test_a_very_long_filter_value_is_served(client: TestClient) -> None:
    response = client.get("/api/customers", params={"created_by": "x" * LONG})
    assert response.status_code == 200 and response.json()["records"] == []


@pytest.mark.parametrize("depth", [100, 5000])
def test_a_filter_nested_too_deep_is_400(client: TestClient, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    problem(client.get("/api/customers", params={"filter": nested}), 400)
    deep_filter = json.dumps({"$and": [{"name": "x"}]})
    for _ in range(depth // 10):
        deep_filter = '{"$not": ' + deep_filter + "}"
    answered = client.get("/api/customers", params={"filter": deep_filter})
    if depth // 10 > MAX_FILTER_DEPTH:
        detail = problem(answered, 400)["detail"]  # the gateway's cap or the core's, whichever is met first
        assert "nested" in detail and str(MAX_FILTER_DEPTH) in detail
    else:
        assert answered.status_code == 200


def test_a_body_nested_too_deep_is_400_and_nothing_is_written(client: TestClient, db: DataFlow) -> None:
    nested = '{"name": ' + "[" * 5000 + "]" * 5000 + ', "email": "a@x"}'
    problem(client.post("/api/customers", content=nested, headers={"content-type": "application/json"}), 400)
    lines = [json.dumps({"name": "a", "email": "a@x"}), "[" * 5000 + "]" * 5000]
    body = problem(client.post("/api/customers/bulk", content="\n".join(lines),
                               headers={"content-type": "application/x-ndjson"}), 400)  # fmt: skip
    assert "line 2" in body["detail"]
    assert customers(db) == 0


def test_a_malformed_filter_on_a_bulk_delete_is_400_and_nothing_is_deleted(client: TestClient, db: DataFlow) -> None:
    assert client.post("/api/customers", json={"name": "Ann", "email": "ann@x"}).status_code == 201
    problem(client.delete("/api/customers/bulk", params={"filter": "{broken"}), 400)
    problem(client.delete("/api/customers/bulk", params={"filter": "[" * 5000}), 400)
    assert customers(db) == 1
