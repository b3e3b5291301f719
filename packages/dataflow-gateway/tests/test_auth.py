"""Authentication, scopes, tenants and registered workflows over HTTP; JWTs that must not pass."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any

import jwt
import pytest
from starlette.testclient import TestClient

from dataflow import ConfigError, DataFlow, MaxLength, WorkflowBuilder
from dataflow_gateway import Principal, api_key_auth, create_gateway, jwt_auth

SECRET = "s" * 32
KEYS = {
    "acme-key": Principal("alice", tenant="acme"),
    "globex-key": Principal("bob", tenant="globex"),
    "reader-key": Principal("carol", tenant="acme", scopes=frozenset({"note:read"})),
    "no-tenant-key": Principal("dave"),
}


@pytest.fixture
def tenanted(any_database_url: str) -> Iterator[DataFlow]:
    db = DataFlow(any_database_url, env="test")

    @db.model
    class Note:
        text: Annotated[str, MaxLength(100)]
        __dataflow__ = {"multi_tenant": True}

    yield db
    db.close()


def keyed(db: DataFlow, **options: Any) -> TestClient:
    return TestClient(create_gateway(db, authenticate=api_key_auth(KEYS), **options))


def test_without_a_key_it_is_401_and_with_a_wrong_key_too(tenanted: DataFlow) -> None:
    with keyed(tenanted) as client:
        assert client.get("/api/note").status_code == 401
        assert client.get("/api/note", headers={"X-API-Key": "guess"}).status_code == 401


def test_each_tenant_sees_and_writes_only_its_own_rows(tenanted: DataFlow) -> None:
    with keyed(tenanted) as client:
        created = client.post("/api/note", json={"text": "acme's"}, headers={"X-API-Key": "acme-key"})
        assert created.status_code == 201 and created.json()["tenant_id"] == "acme"
        other = client.get("/api/note", headers={"X-API-Key": "globex-key"}).json()
        assert other["records"] == []
        assert client.get(f"/api/note/{created.json()['id']}", headers={"X-API-Key": "globex-key"}).status_code == 404
        forged = client.post("/api/note", json={"text": "x", "tenant_id": "acme"}, headers={"X-API-Key": "globex-key"})
        assert forged.status_code == 422
    admin = tenanted.express_sync.using(tenant_admin="test check")
    assert [n["text"] for n in admin.list("Note")["records"]] == ["acme's"]


def test_a_principal_without_a_tenant_is_refused_and_nothing_is_written(tenanted: DataFlow) -> None:
    with keyed(tenanted) as client:
        assert client.post("/api/note", json={"text": "x"}, headers={"X-API-Key": "no-tenant-key"}).status_code == 403
    assert tenanted.express_sync.using(tenant_admin="check").count("Note") == {"count": 0}


def test_scopes_limit_operations_per_model(tenanted: DataFlow) -> None:
    with keyed(tenanted) as client:
        assert client.get("/api/note", headers={"X-API-Key": "reader-key"}).status_code == 200
        refused = client.post("/api/note", json={"text": "x"}, headers={"X-API-Key": "reader-key"})
        assert refused.status_code == 403 and "note:write" in refused.json()["detail"]


def token(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    base = {"sub": "alice", "tenant": "acme", "aud": "dataflow", "iss": "https://issuer",
            "exp": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)}  # fmt: skip
    return jwt.encode({**base, **claims}, key, algorithm=algorithm)


@pytest.mark.parametrize(
    ("bearer", "expected"),
    [
        (token({}), 200),
        (token({"exp": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)}), 401),
        (token({"aud": "someone-else"}), 401),
        (token({}, key="k" * 32), 401),
        (
            jwt.encode(
                {"sub": "alice", "tenant": "acme", "aud": "dataflow", "iss": "https://issuer", "exp": 4102444800},
                None,
                algorithm="none",
            ),
            401,
        ),
        ("not-a-token", 401),
    ],
    ids=["valid", "expired", "wrong-audience", "other-key", "alg-none", "garbage"],
)
def test_only_a_valid_signed_unexpired_token_for_this_audience_passes(
    tenanted: DataFlow, bearer: str, expected: int
) -> None:
    auth = jwt_auth(SECRET, algorithms=["HS256"], issuer="https://issuer", audience="dataflow")
    with TestClient(create_gateway(tenanted, authenticate=auth)) as client:
        response = client.get("/api/note", headers={"Authorization": f"Bearer {bearer}"})
        assert response.status_code == expected, response.text


def test_production_refuses_to_start_without_authentication(any_database_url: str) -> None:
    db = DataFlow(any_database_url, env="production")
    try:
        with pytest.raises(ConfigError, match="authenticate"):
            create_gateway(db)
        assert create_gateway(db, allow_anonymous=True) is not None
    finally:
        db.close()


def test_a_registered_workflow_runs_in_one_transaction_with_the_principals_tenant(tenanted: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(tenanted.nodes["NoteCreateNode"], "first", {"text": "one"})
    workflow.add_node(tenanted.nodes["NoteCreateNode"], "second", {"text": "two"})
    gateway = create_gateway(tenanted, authenticate=api_key_auth(KEYS))
    gateway.register_workflow("two_notes", workflow, transaction=True)
    with TestClient(gateway) as client:
        headers = {"X-API-Key": "acme-key"}
        ok = client.post("/api/workflows/two_notes", json={"parameters": {"second": {"text": "2"}}}, headers=headers)
        assert ok.status_code == 200 and ok.json()["results"]["second"]["text"] == "2" and ok.json()["run_id"]
        unknown = client.post("/api/workflows/two_notes", json={"parameters": {"thrid": {}}}, headers=headers)
        assert unknown.status_code == 400 and "thrid" in unknown.json()["detail"]
        bad = client.post("/api/workflows/two_notes", json={"parameters": {"first": {"txt": "x"}}}, headers=headers)
        assert bad.status_code == 400 and "txt" in bad.json()["detail"]
        failing = client.post("/api/workflows/two_notes", json={"parameters": {"second": {"text": "x" * 200}}},
                              headers=headers)  # fmt: skip
        assert failing.status_code == 422
        assert client.post("/api/workflows/none", json={}, headers=headers).status_code == 404
    assert tenanted.express_sync.using(tenant="acme").count("Note") == {"count": 2}
