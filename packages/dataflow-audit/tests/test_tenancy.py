"""Tenancy: entries, keys and subjects follow the model's tenancy; no tenant reads or erases another's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import pytest
from audit_helpers import open_db, run_node
from test_personal import master

from dataflow import DataFlow, MaxLength, Personal
from dataflow.errors import NotFoundError
from dataflow_audit import Audit

pytest.importorskip("dataflow_tenancy", reason="dataflow-tenancy is not installed")

SECRET = "acme.person@example.com"


def raw(db: DataFlow, sql: str) -> list[dict[str, object]]:
    """Raw SQL reads every tenant's rows: the admin scope, deliberately."""
    with db.tenant_admin(reason="test reads the audit tables"):
        rows: list[dict[str, object]] = db.sql(sql)
    return rows


@pytest.fixture
def tenants(any_database_url: str) -> Iterator[DataFlow]:
    db = open_db(any_database_url)
    Audit.of(db).configure(master_key=master())

    @db.model
    class Member:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(200), Personal()]
        __dataflow__ = {"audit": True, "subject": "id", "multi_tenant": True}

    yield db
    db.close()


def test_each_tenant_has_its_own_chain_and_reads_only_its_own_history(tenants: DataFlow) -> None:
    db = tenants
    acme = run_node(db, "MemberCreateNode", {"name": "A", "email": SECRET}, tenant="acme")
    globex = run_node(db, "MemberCreateNode", {"name": "G", "email": "g@example.com"}, tenant="globex")
    rows = raw(db, "SELECT chain, tenant FROM dataflow_audit ORDER BY id")
    assert [(r["chain"], r["tenant"]) for r in rows] == [("acme/member", "acme"), ("globex/member", "globex")]
    assert {r["subject"] for r in raw(db, "SELECT subject FROM dataflow_audit_key")} == {
        f"acme/Member:{acme['id']}",
        f"globex/Member:{globex['id']}",
    }
    mine = db.audit.history("Member", acme["id"], context={"tenant": "acme"})
    assert [e.changes["email"] for e in mine] == [[None, SECRET]]
    assert db.audit.history("Member", acme["id"], context={"tenant": "globex"}) == []
    with db.tenant("globex"):
        assert db.audit.history("Member", acme["id"]) == []
    assert db.audit.verify().chains == 2


def test_a_tenant_cannot_export_or_erase_another_tenants_subject(tenants: DataFlow) -> None:
    db = tenants
    acme = run_node(db, "MemberCreateNode", {"name": "A", "email": SECRET}, tenant="acme")
    with pytest.raises(NotFoundError, match="does not exist"):
        db.gdpr.export("Member", acme["id"], tenant="globex")
    with pytest.raises(NotFoundError, match="does not exist"):
        db.gdpr.erase("Member", acme["id"], tenant="globex")
    assert db.gdpr.export("Member", acme["id"], tenant="acme")["subject"]["record"]["email"] == SECRET
    result = db.gdpr.erase("Member", acme["id"], tenant="acme")
    assert result.records == {"Member": 1}
    assert raw(db, "SELECT subject FROM dataflow_audit_key") == []
    assert db.audit.verify().ok


def test_an_update_is_recorded_in_its_tenants_chain_and_another_tenant_updates_nothing(tenants: DataFlow) -> None:
    db = tenants
    acme = run_node(db, "MemberCreateNode", {"name": "A", "email": SECRET}, tenant="acme")
    run_node(db, "MemberUpdateNode", {"id": acme["id"], "fields": {"name": "B"}}, tenant="acme")
    run_node(db, "MemberUpdateNode", {"id": acme["id"], "fields": {"name": "C"}}, tenant="acme")
    missed = run_node(
        db,
        "MemberUpdateNode",
        {"id": acme["id"], "fields": {"name": "X"}, "raise_on_not_found": False},
        tenant="globex",
    )
    assert missed is None
    rows = raw(db, "SELECT chain, seq, tenant, operation, changes FROM dataflow_audit ORDER BY id")
    assert [(r["chain"], r["seq"], r["tenant"], r["operation"]) for r in rows] == [
        ("acme/member", 1, "acme", "create"),
        ("acme/member", 2, "acme", "update"),
        ("acme/member", 3, "acme", "update"),
    ]
    history = db.audit.history("Member", acme["id"], context={"tenant": "acme"})
    assert [e.changes for e in history[:2]] == [{"name": ["B", "C"]}, {"name": ["A", "B"]}]
    with db.tenant_admin(reason="test updates as the admin"):
        run_node(db, "MemberUpdateNode", {"id": acme["id"], "fields": {"name": "D"}})
    last = raw(db, "SELECT chain, seq, tenant FROM dataflow_audit ORDER BY id DESC")[0]
    assert (last["chain"], last["seq"], last["tenant"]) == ("acme/member", 4, "acme")
    assert db.audit.verify().ok
