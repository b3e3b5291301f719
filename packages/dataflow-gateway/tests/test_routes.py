"""The model routes over HTTP on every backend: the node shapes, the value encoding, and the database behind them."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from dataflow import DataFlow
from dataflow_gateway import create_gateway


def ann(**extra: Any) -> dict[str, Any]:
    return {"name": "Ann", "email": "ann@example.com", "age": 31, "balance": "12.50", **extra}


def count(db: DataFlow, model: str = "Customer") -> int:
    return int(db.express_sync.count(model)["count"])


def test_create_read_update_delete(client: TestClient, db: DataFlow) -> None:
    created = client.post("/api/customers", json=ann(joined="2026-01-02T03:04:05+00:00"))
    assert created.status_code == 201, created.text
    record = created.json()
    assert created.headers["location"] == f"/api/customers/{record['id']}"
    assert Decimal(record["balance"]) == Decimal("12.50") and isinstance(record["balance"], str)
    assert dt.datetime.fromisoformat(record["joined"]) == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert "password_hash" not in record
    read = client.get(f"/api/customers/{record['id']}")
    assert read.status_code == 200 and read.json() == record
    patched = client.patch(f"/api/customers/{record['id']}", json={"age": 32})
    assert patched.status_code == 200 and patched.json()["age"] == 32
    assert db.express_sync.read("Customer", record["id"])["age"] == 32
    assert client.delete(f"/api/customers/{record['id']}").status_code == 204
    assert count(db) == 0


def test_list_with_query_operators_order_limit_and_keyset_next(client: TestClient, db: DataFlow) -> None:
    db.express_sync.bulk_create("Customer", [{"name": f"c{i}", "email": f"c{i}@x", "age": i} for i in range(30)])
    page = client.get("/api/customers", params={"age[$gte]": "10", "order_by": "-age", "limit": "5"})
    assert page.status_code == 200, page.text
    body = page.json()
    assert [r["age"] for r in body["records"]] == [29, 28, 27, 26, 25] and body["count"] == 5
    assert 'rel="next"' in page.headers["link"]
    following = client.get("/api/customers", params={"age[$gte]": "10", "order_by": "-age", "limit": "5",
                                                      "after": body["next"]})  # fmt: skip
    assert [r["age"] for r in following.json()["records"]] == [24, 23, 22, 21, 20]
    by_json = client.get("/api/customers", params={"filter": json.dumps({"age": {"$in": [1, 2]}}), "fields": "name"})
    assert sorted(r["name"] for r in by_json.json()["records"]) == ["c1", "c2"]
    assert client.get("/api/customers").json()["count"] == 30  # the default limit is 50


def test_count_aggregate_and_include(client: TestClient, db: DataFlow) -> None:
    team = db.express_sync.create("Team", {"name": "core"})
    db.express_sync.bulk_create("Customer", [{"name": f"c{i}", "email": f"c{i}@x", "age": i % 3, "balance": "1.25",
                                              "team_id": team["id"] if i % 2 else None} for i in range(6)])  # fmt: skip
    assert client.get("/api/customers/count", params={"age": "1"}).json() == {"count": 2}
    report = client.get(
        "/api/customers/aggregate",
        params={
            "group_by": "age",
            "aggregates": json.dumps({"n": {"$count": "*"}, "total": {"$sum": "balance"}}),
            "order_by": "age",
        },
    )
    first = report.json()["groups"][0]
    assert (first["age"], first["n"], Decimal(first["total"])) == (0, 2, Decimal("2.50"))
    with_team = client.get("/api/customers", params={"include": "team", "team_id": "1", "limit": "1"}).json()
    assert with_team["records"][0]["team"]["name"] == "core"


def test_upsert_and_bulk_routes(client: TestClient, db: DataFlow) -> None:
    first = client.post("/api/customers/upsert", json={**ann(), "conflict_on": ["email"]})
    assert first.status_code == 201 and first.json()["created"] is True
    again = client.post("/api/customers/upsert", json={**ann(age=40), "conflict_on": ["email"]})
    assert again.status_code == 200 and again.json()["record"]["age"] == 40
    rows = [{"name": f"b{i}", "email": f"b{i}@x"} for i in range(3)]
    assert client.post("/api/customers/bulk", json=rows).json() == {"inserted": 3}
    merged = client.post(
        "/api/customers/bulk-upsert?conflict_on=email", json=[*rows[:1], {"name": "n", "email": "n@x"}]
    )
    assert merged.json() == {"inserted": 1, "updated": 1}
    assert client.patch("/api/customers/bulk", json={"filter": {"age": 0}, "fields": {"age": 5}}).json() == {
        "updated": 4
    }
    assert client.delete("/api/customers/bulk", params={"filter": json.dumps({"age": 5})}).json() == {"deleted": 4}
    assert count(db) == 1


def test_ndjson_bulk_is_read_line_by_line(client: TestClient, db: DataFlow) -> None:
    lines = "\n".join(json.dumps({"name": f"n{i}", "email": f"n{i}@x"}) for i in range(2000)) + "\n"
    response = client.post("/api/customers/bulk", content=lines, headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 201 and response.json() == {"inserted": 2000}
    assert count(db) == 2000


def test_the_openapi_document_is_valid_and_names_every_route(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    validate(document)
    assert {"/api/customers", "/api/customers/{key}", "/api/customers/bulk", "/api/team", "/api/document"} <= set(
        document["paths"]
    )
    customer = document["components"]["schemas"]["Customer"]
    assert "password_hash" not in customer["properties"]
    assert "created_by" not in document["components"]["schemas"]["CustomerCreate"]["properties"]
    assert customer["properties"]["name"]["maxLength"] == 50


def test_mounted_inside_another_application_it_serves_under_the_mount(db: DataFlow) -> None:
    outer = Starlette(routes=[Mount("/data", app=create_gateway(db))])
    with TestClient(outer) as client:
        created = client.post("/data/api/customers", json=ann())
        assert created.status_code == 201
        assert created.headers["location"] == f"/data/api/customers/{created.json()['id']}"
        assert client.get("/data/api/customers").json()["count"] == 1


def test_monitoring_serves_metrics_with_route_templates_and_health(db: DataFlow) -> None:
    with TestClient(create_gateway(db, enable_monitoring=True)) as client:
        client.post("/api/customers", json=ann())
        for key in (1, 2, 3):
            client.get(f"/api/customers/{key}")
        metrics = client.get("/metrics").text
        assert 'route="/api/customers/{key}"' in metrics and 'status="404"' in metrics
        assert "/api/customers/2" not in metrics
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["healthy"] is True
