"""Writes through the gateway are audited as the principal's: a JWT's subject and tenant, or "anonymous"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any

import jwt
import pytest
from starlette.testclient import TestClient

from dataflow import DataFlow, MaxLength, WorkflowBuilder
from dataflow_gateway import create_gateway, jwt_auth

pytest.importorskip("dataflow_audit", reason="dataflow-audit is not installed")

SECRET = "k" * 32


@pytest.fixture
def audited(any_database_url: str) -> Iterator[DataFlow]:
    db = DataFlow(any_database_url, env="test")

    @db.model
    class Ledger:
        text: Annotated[str, MaxLength(100)]
        amount: int = 0
        __dataflow__ = {"audit": True, "multi_tenant": True}

    @db.model
    class Memo:
        text: Annotated[str, MaxLength(100)]
        __dataflow__ = {"audit": True}

    yield db
    db.close()


def bearer(subject: str, tenant: str) -> dict[str, str]:
    claims = {"sub": subject, "tenant": tenant, "exp": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


def trail(db: DataFlow) -> list[tuple[Any, ...]]:
    query = "SELECT model, record_key, operation, actor, tenant, node_id FROM dataflow_audit ORDER BY id"
    rows = db.express_sync.using(tenant_admin="audit check").sql(query)
    return [(r["model"], r["record_key"], r["operation"], r["actor"], r["tenant"], r["node_id"]) for r in rows]


def test_every_write_through_the_gateway_is_recorded_as_the_jwt_principals(audited: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(audited.nodes["LedgerCreateNode"], "book", {"text": "from a workflow", "amount": 1})
    gateway = create_gateway(audited, authenticate=jwt_auth(SECRET, algorithms=["HS256"]))
    gateway.register_workflow("book", workflow)
    with TestClient(gateway) as client:
        alice = bearer("alice@acme", "acme")
        created = client.post("/api/ledger", json={"text": "rent", "amount": 10}, headers=alice)
        assert created.status_code == 201, created.text
        key = created.json()["id"]
        assert client.patch(f"/api/ledger/{key}", json={"amount": 12}, headers=alice).status_code == 200
        bulk = client.post("/api/ledger/bulk", json=[{"text": "a"}, {"text": "b"}], headers=bearer("bob", "acme"))
        assert bulk.status_code in (200, 201), bulk.text
        assert client.delete(f"/api/ledger/{key}", headers=alice).status_code in (200, 204)
        ran = client.post("/api/workflows/book", json={}, headers=bearer("carol", "globex"))
        assert ran.status_code == 200, ran.text
    entries = trail(audited)
    assert [(op, actor, tenant) for _, _, op, actor, tenant, _ in entries] == [
        ("create", "alice@acme", "acme"),
        ("update", "alice@acme", "acme"),
        ("create", "bob", "acme"),  # the bulk create of two rows: one bulk entry
        ("delete", "alice@acme", "acme"),
        ("create", "carol", "globex"),
    ]
    assert entries[-1][5] == "book"  # the workflow's node id
    history = audited.audit.history("Ledger", key, context={"tenant": "acme"})
    assert [(e.operation, e.actor) for e in history] == [("delete", "alice@acme"), ("update", "alice@acme"),
                                                         ("create", "alice@acme")]  # fmt: skip
    assert audited.audit.verify().ok


def test_a_write_without_authentication_is_recorded_as_anonymous(audited: DataFlow) -> None:
    with TestClient(create_gateway(audited)) as client:
        created = client.post("/api/memo", json={"text": "hello"})
        assert created.status_code == 201, created.text
        assert client.patch(f"/api/memo/{created.json()['id']}", json={"text": "bye"}).status_code == 200
    assert [(op, actor, tenant) for _, _, op, actor, tenant, _ in trail(audited)] == [
        ("create", "anonymous", None),
        ("update", "anonymous", None),
    ]
