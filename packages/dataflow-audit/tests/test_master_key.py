"""A wrong master key refuses everything that needs a subject's key: reading, exporting, writing, erasing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from audit_helpers import run_node
from test_personal import EMAIL, master, open_customers

from dataflow import DataFlow
from dataflow.errors import WorkflowError
from dataflow_audit.sealing import AuditKeyError

WRONG_KEY = "not the key the trail was written with"


@pytest.fixture
def written(any_database_url: str) -> Iterator[tuple[str, int]]:
    """A trail with one customer, written under one master key (then closed)."""
    writer = open_customers(any_database_url, master())
    ann = run_node(writer, "CustomerCreateNode", {"name": "Ann", "email": EMAIL})
    writer.close()
    yield any_database_url, int(ann["id"])


def _snapshot(db: DataFlow) -> str:
    tables = ("customer", "order", "dataflow_audit", "dataflow_audit_key", "dataflow_gdpr_erasure")
    return json.dumps([db.sql(f"SELECT * FROM {db.dialect.quote(t)}") for t in tables], default=str)


def test_a_wrong_master_key_refuses_history_and_export(written: tuple[str, int]) -> None:
    url, ann = written
    reader = open_customers(url, master())
    try:
        with pytest.raises(AuditKeyError, match=WRONG_KEY):
            reader.audit.history("Customer", ann)
        with pytest.raises(AuditKeyError, match=WRONG_KEY):
            reader.gdpr.export("Customer", ann)
    finally:
        reader.close()


def test_a_wrong_master_key_refuses_to_write_and_changes_nothing(written: tuple[str, int]) -> None:
    url, ann = written
    db = open_customers(url, master())
    try:
        before = _snapshot(db)
        with pytest.raises(WorkflowError) as existing:  # a subject whose key is stored
            run_node(db, "CustomerUpdateNode", {"id": ann, "fields": {"email": f"new.{EMAIL}"}})
        with pytest.raises(WorkflowError) as new:  # a new subject: its key would be wrapped by the wrong master key
            run_node(db, "CustomerCreateNode", {"name": "Bo", "email": "bo@example.com"})
        for refused in (existing.value, new.value):
            assert isinstance(refused.cause, AuditKeyError) and WRONG_KEY in str(refused.cause)
        with pytest.raises(AuditKeyError, match=WRONG_KEY):
            db.gdpr.erase("Customer", ann)
        assert _snapshot(db) == before
    finally:
        db.close()
