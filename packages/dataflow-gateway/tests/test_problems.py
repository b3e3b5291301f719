"""Every error a client can cause is a problem document with the right status, and leaves the database unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from dataflow import DataFlow
from dataflow_gateway import create_gateway


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


def rows(db: DataFlow) -> int:
    return int(db.express_sync.count("Customer")["count"])


@pytest.fixture
def ann(client: TestClient) -> dict[str, Any]:
    created: dict[str, Any] = client.post("/api/customers", json={"name": "Ann", "email": "ann@x"}).json()
    return created


def test_malformed_json_is_400(client: TestClient, db: DataFlow) -> None:
    response = client.post("/api/customers", content=b"{nope", headers={"content-type": "application/json"})
    assert "not valid JSON" in problem(response, 400)["detail"] and rows(db) == 0


def test_a_malformed_filter_is_400_naming_the_field(client: TestClient) -> None:
    body = problem(client.get("/api/customers", params={"filter": json.dumps({"agee": 1})}), 400)
    assert "did you mean 'age'" in body["detail"]
    assert "not valid JSON" in problem(client.get("/api/customers", params={"filter": "{"}), 400)["detail"]


def test_an_unknown_query_parameter_names_the_nearest(client: TestClient) -> None:
    assert "did you mean 'order_by'" in problem(client.get("/api/customers?order_bu=age"), 400)["detail"]


def test_a_repeated_query_parameter_is_400(client: TestClient) -> None:
    assert "repeated" in problem(client.get("/api/customers?age=1&age=2"), 400)["detail"]


def test_a_limit_over_the_maximum_is_400(client: TestClient) -> None:
    assert "over the maximum of 100" in problem(client.get("/api/customers?limit=101"), 400)["detail"]


def test_a_missing_record_and_a_key_of_the_wrong_type_are_404(client: TestClient) -> None:
    problem(client.get("/api/customers/999999"), 404)
    problem(client.get("/api/customers/abc"), 404)
    problem(client.get("/api/nothing-here"), 404)


def test_a_method_that_is_not_served_is_405(client: TestClient) -> None:
    problem(client.put("/api/customers", json={}), 405)


def test_a_duplicate_is_409_naming_the_fields(client: TestClient, db: DataFlow, ann: dict[str, Any]) -> None:
    body = problem(client.post("/api/customers", json={"name": "Other", "email": "ann@x"}), 409)
    assert body["errors"][0]["field"] == "email" and rows(db) == 1


def test_a_reference_to_nothing_is_409(client: TestClient, db: DataFlow) -> None:
    problem(client.post("/api/customers", json={"name": "A", "email": "a@x", "team_id": 999}), 409)
    assert rows(db) == 0


def test_validation_is_422_with_field_errors(client: TestClient, db: DataFlow) -> None:
    body = problem(client.post("/api/customers", json={"name": "A", "email": "a@x", "age": "old"}), 422)
    assert body["errors"] == [{"field": "age", "message": body["detail"]}] and rows(db) == 0
    assert problem(client.post("/api/customers", json=[{"name": "A"}]), 422)["errors"]


def test_a_read_only_field_is_422_and_a_hidden_one_never_shows(client: TestClient, db: DataFlow) -> None:
    body = problem(client.post("/api/customers", json={"name": "A", "email": "a@x", "created_by": "me"}), 422)
    assert body["errors"][0]["field"] == "created_by" and rows(db) == 0
    created = client.post("/api/customers", json={"name": "A", "email": "a@x", "password_hash": "s3cret"})
    assert created.status_code == 201 and "password_hash" not in created.json()
    assert "s3cret" not in client.get("/api/customers").text
    assert "unknown field" in problem(client.get("/api/customers?filter=" + json.dumps({"password_hash": "s3cret"})),
                                      400)["detail"]  # fmt: skip
    problem(client.get("/api/customers?password_hash=s3cret"), 400)


def test_a_wrong_content_type_is_415(client: TestClient, db: DataFlow) -> None:
    problem(client.post("/api/customers", content=b"name=A", headers={"content-type": "text/plain"}), 415)
    assert rows(db) == 0


def test_a_body_over_the_limit_is_413(client: TestClient, db: DataFlow) -> None:
    big = json.dumps([{"name": "x" * 40, "email": f"{i}@x"} for i in range(40_000)])
    problem(client.post("/api/customers/bulk", content=big, headers={"content-type": "application/json"}), 413)
    assert rows(db) == 0


def test_a_bad_ndjson_line_is_named_and_nothing_is_written(client: TestClient, db: DataFlow) -> None:
    lines = [json.dumps({"name": f"n{i}", "email": f"n{i}@x"}) for i in range(10_000)]
    lines[4999] = "{broken"
    body = problem(client.post("/api/customers/bulk", content="\n".join(lines),
                               headers={"content-type": "application/x-ndjson"}), 400)  # fmt: skip
    assert "line 5000" in body["detail"] and rows(db) == 0


def test_a_bad_row_in_a_bulk_is_422_naming_the_row(client: TestClient, db: DataFlow) -> None:
    data = [{"name": "a", "email": "a@x"}, {"name": "b", "email": "b@x", "age": "x"}]
    assert "data[1]" in problem(client.post("/api/customers/bulk", json=data), 422)["detail"]
    assert rows(db) == 0


def test_deleting_everything_needs_confirmation(client: TestClient, db: DataFlow, ann: dict[str, Any]) -> None:
    problem(client.delete("/api/customers/bulk", params={"filter": "{}"}), 422)
    assert rows(db) == 1
    assert client.delete("/api/customers/bulk", params={"filter": "{}", "confirmed": "true"}).json() == {"deleted": 1}


def test_versions_over_http_etag_if_match_412_and_428(db: DataFlow) -> None:
    with TestClient(create_gateway(db, require_if_match=True)) as client:
        created = client.post("/api/document", json={"title": "v1"})
        etag = created.headers["etag"]
        key = created.json()["id"]
        problem(client.patch(f"/api/document/{key}", json={"title": "v2"}), 428)
        updated = client.patch(f"/api/document/{key}", json={"title": "v2"}, headers={"If-Match": etag})
        assert updated.status_code == 200 and updated.headers["etag"] != etag
        problem(client.patch(f"/api/document/{key}", json={"title": "v3"}, headers={"If-Match": etag}), 412)
        problem(client.delete(f"/api/document/{key}", headers={"If-Match": etag}), 412)
        assert db.express_sync.read("Document", key)["title"] == "v2"
        assert client.delete(f"/api/document/{key}", headers={"If-Match": updated.headers["etag"]}).status_code == 204


def test_an_unexpected_failure_is_a_500_with_an_incident_id_and_no_internals(
    db: DataFlow, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = create_gateway(db)

    async def broken(request: Any, express: Any) -> Any:
        raise RuntimeError("secret internals: password=hunter2")

    gateway.resources["Customer"].count = broken  # type: ignore[method-assign]
    gateway.app.router.routes.clear()
    gateway.app.router.routes.extend(gateway._routes())
    with TestClient(gateway) as client:
        body = problem(client.get("/api/customers/count"), 500)
    assert "hunter2" not in json.dumps(body) and "incident" in body["detail"]
    incident = body["detail"].rsplit("incident ", 1)[1].split()[0]
    assert any(incident in record.getMessage() for record in caplog.records)
