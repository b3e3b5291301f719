"""Requests a client gets wrong are 4xx problems naming what is wrong, never a 500, and write nothing."""

from __future__ import annotations

from starlette.testclient import TestClient

from dataflow import DataFlow


def test_bulk_delete_by_ids_from_the_query_string(client: TestClient, db: DataFlow) -> None:
    rows = [{"name": f"c{i}", "email": f"c{i}@example.com"} for i in range(3)]
    ids = db.express_sync.bulk_create("Customer", rows, return_ids=True)["ids"]
    deleted = client.delete("/api/customers/bulk", params={"ids": f"{ids[0]},{ids[2]}"})
    assert deleted.status_code == 200 and deleted.json() == {"deleted": 2}, deleted.text
    assert [c["id"] for c in db.express_sync.list("Customer")["records"]] == [ids[1]]
    wrong = client.delete("/api/customers/bulk", params={"ids": f"{ids[1]},x"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "ids[1]", wrong.text
    assert db.express_sync.count("Customer")["count"] == 1


def test_a_bulk_delete_filter_that_is_not_json_is_a_400(client: TestClient, db: DataFlow) -> None:
    db.express_sync.create("Customer", {"name": "Ann", "email": "ann@example.com"})
    answer = client.delete("/api/customers/bulk", params={"filter": "{"})
    assert answer.status_code == 400 and "'filter'" in answer.json()["detail"], answer.text
    assert db.express_sync.count("Customer")["count"] == 1


def test_numbers_that_are_digits_but_not_ascii_are_a_4xx(client: TestClient) -> None:
    # "²".isdigit() is True, int("²") raises: each of these was a 500.
    assert client.get("/api/customers", params={"limit": "²"}).status_code == 400
    assert client.get("/api/customers", params={"offset": "³"}).status_code == 400
    assert client.get("/api/customers/²").status_code == 404
    assert client.post("/api/customers/bulk", params={"batch_size": "²"}, json=[]).status_code == 400
    patched = client.patch("/api/document/1", json={"title": "x"}, headers={"If-Match": '"²"'.encode("latin-1")})  # type: ignore[dict-item]
    assert patched.status_code == 412, patched.text


def test_a_body_nested_too_deeply_for_the_parser_is_a_400(client: TestClient, db: DataFlow) -> None:
    deep = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for method, path in (("POST", "/api/customers"), ("PATCH", "/api/customers/bulk"), ("POST", "/api/customers/bulk")):
        answer = client.request(method, path, content=deep.encode(), headers={"content-type": "application/json"})
        assert answer.status_code == 400 and "nested too deeply" in answer.json()["detail"], (path, answer.text)
    ndjson = client.post("/api/customers/bulk", content=("[" * 100_000).encode() + b"\n",
                         headers={"content-type": "application/x-ndjson"})  # fmt: skip
    assert ndjson.status_code == 400 and "line 1" in ndjson.json()["detail"], ndjson.text
    assert db.express_sync.count("Customer")["count"] == 0
