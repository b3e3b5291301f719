"""Hidden fields stay hidden through relations: included records, relation paths in queries, conflict_on."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from dataflow import DataFlow


def a_team_with_a_secret(db: DataFlow) -> int:
    team = db.express_sync.create("Team", {"name": "Core"})
    db.express_sync.create(
        "Customer", {"name": "Ann", "email": "ann@example.com", "password_hash": "hash-1", "team_id": team["id"]}
    )
    return int(team["id"])


def test_records_included_from_another_route_do_not_show_hidden_fields(client: TestClient, db: DataFlow) -> None:
    team = a_team_with_a_secret(db)
    listed = client.get("/api/team", params={"include": "customers"})
    assert listed.status_code == 200, listed.text
    [customer] = listed.json()["records"][0]["customers"]
    assert customer["name"] == "Ann" and "password_hash" not in customer
    read = client.get(f"/api/team/{team}", params={"include": "customers.team"})
    assert read.status_code == 200, read.text
    assert "password_hash" not in read.json()["customers"][0]
    assert "hash-1" not in read.text and "hash-1" not in listed.text


def test_a_relation_path_to_a_hidden_field_is_refused_as_unknown(client: TestClient, db: DataFlow) -> None:
    a_team_with_a_secret(db)
    attempts = [
        ("/api/team", {"filter": json.dumps({"customers": {"$some": {"password_hash": "hash-1"}}})}),
        ("/api/team/count", {"filter": json.dumps({"customers": {"$none": {"password_hash": {"$like": "h%"}}}})}),
        ("/api/team", {"include": json.dumps({"customers": {"filter": {"password_hash": "hash-1"}}})}),
        ("/api/team", {"include": json.dumps({"customers": {"order_by": ["-password_hash"]}})}),
        ("/api/team", {"include": json.dumps({"customers": {"fields": ["name", "password_hash"]}})}),
    ]
    for path, params in attempts:
        answer = client.get(path, params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert "unknown field" in answer.json()["detail"] and "hash-1" not in answer.text


def test_a_relation_path_to_a_visible_field_still_works(client: TestClient, db: DataFlow) -> None:
    a_team_with_a_secret(db)
    found = client.get("/api/team", params={"filter": json.dumps({"customers": {"$some": {"name": "Ann"}}})})
    assert found.status_code == 200 and [t["name"] for t in found.json()["records"]] == ["Core"]
    params = {"filter": json.dumps({"team.name": "Core"}), "order_by": "team.name"}
    by_team = client.get("/api/customers", params=params)
    assert by_team.status_code == 200 and by_team.json()["count"] == 1


def test_upsert_cannot_match_on_a_hidden_field(client: TestClient, db: DataFlow) -> None:
    a_team_with_a_secret(db)
    # "created": false would tell the caller that some record holds this hash.
    eve = {"name": "Eve", "email": "eve@example.com", "password_hash": "hash-1"}
    single = client.post("/api/customers/upsert", json={**eve, "conflict_on": ["password_hash"]})
    assert single.status_code == 400 and "conflict_on" in single.json()["detail"], single.text
    bulk = client.post("/api/customers/bulk-upsert", params={"conflict_on": "password_hash"},
                       json=[eve])  # fmt: skip
    assert bulk.status_code == 400 and "conflict_on" in bulk.json()["detail"], bulk.text
    assert db.express_sync.count("Customer")["count"] == 1
