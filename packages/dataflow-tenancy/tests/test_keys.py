"""Ids as an oracle: under a tenant, no write chooses the id of a row-level model, so none tells whose it is.

Every tenant's rows of a row-level model share one id space. Were a tenant
allowed to name ids, "that id is taken" (a unique violation, a skipped row)
would tell it which ids other tenants hold, while Read says "not found".
"""

from __future__ import annotations

from typing import Any

import pytest
from tenancy_helpers import customers, everything, fails, run

from dataflow import DataFlow, ValidationError

ACME, GLOBEX = "acme", "globex"
ADMIN = {"tenant_admin": "restore"}


def globex_id(db: DataFlow) -> int:
    run(db, "CustomerCreateNode", {"name": "g", "email": "g@x"}, tenant=GLOBEX)
    return int(everything(db, "Customer")[0]["id"])


def writes(key: int) -> list[tuple[str, dict[str, Any]]]:
    row = {"id": key, "name": "a", "email": "a@x"}
    return [
        ("CustomerCreateNode", row),
        ("CustomerBulkCreateNode", {"data": [row]}),
        ("CustomerBulkCreateNode", {"data": [row], "conflict_on": ["id"]}),
        ("CustomerUpsertNode", {**row, "conflict_on": ["id"]}),
        ("CustomerUpsertNode", row),
        ("CustomerBulkUpsertNode", {"data": [row], "conflict_on": ["id"]}),
        ("CustomerBulkUpsertNode", {"data": [row], "conflict_on": ["tenant_id", "email"]}),
    ]


@pytest.mark.parametrize("index", range(len(writes(0))))
def test_an_id_held_by_another_tenant_and_a_free_id_get_the_same_refusal(db: DataFlow, index: int) -> None:
    taken = globex_id(db)
    before = everything(db, "Customer")
    answers = []
    for key in (taken, taken + 1000):
        node, params = writes(key)[index]
        error = fails(db, node, params, tenant=ACME)
        assert isinstance(error, ValidationError) and error.field == "id", (node, error)
        assert "chosen by the database" in error.message
        answers.append((type(error), error.message))
    assert answers[0] == answers[1]
    assert everything(db, "Customer") == before


def test_rows_without_ids_are_written_and_get_the_databases_ids(db: DataFlow) -> None:
    globex_id(db)
    created = run(db, "CustomerCreateNode", {"name": "a", "email": "a@x"}, tenant=ACME)
    result = run(db, "CustomerBulkCreateNode", {"data": customers(2, "b"), "return_ids": True}, tenant=ACME)
    assert len({created["id"], *result["ids"]}) == 3
    assert run(db, "CustomerCountNode", {}, tenant=ACME) == {"count": 3}


def test_the_tenants_own_rows_are_changed_by_id_with_update(db: DataFlow) -> None:
    mine = run(db, "CustomerCreateNode", {"name": "a", "email": "a@x"}, tenant=ACME)
    updated = run(db, "CustomerUpdateNode", {"id": mine["id"], "fields": {"score": 7}}, tenant=ACME)
    assert updated["score"] == 7
    assert run(db, "CustomerBulkUpdateNode", {"data": [{"id": mine["id"], "score": 8}]}, tenant=ACME) == {"updated": 1}


def test_the_admin_scope_may_restore_rows_with_their_ids(db: DataFlow) -> None:
    row = {"id": 41, "name": "a", "email": "a@x", "tenant_id": ACME}
    run(db, "CustomerBulkCreateNode", {"data": [row]}, context=ADMIN)
    assert run(db, "CustomerReadNode", {"id": 41}, tenant=ACME)["email"] == "a@x"


def test_models_without_tenancy_still_take_ids(db: DataFlow) -> None:
    assert run(db, "NoteCreateNode", {"id": 5, "text": "t"})["id"] == 5
