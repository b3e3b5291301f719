"""Data subjects: export (access), erasure (anonymize or delete, crypto-shredding), and their bad input."""

from __future__ import annotations

import json

import pytest
from audit_helpers import run_node
from test_personal import BORN, EMAIL, PHONE, master, open_customers

from dataflow import DataFlow
from dataflow.errors import ConfigError, NotFoundError, ValidationError

NOTE = "ring twice, the dog is friendly"


def _customer_with_orders(db: DataFlow) -> int:
    ann = run_node(db, "CustomerCreateNode", {"name": "Ann", "email": EMAIL, "phone": PHONE, "born": BORN})
    for total in (5, 7):
        run_node(db, "OrderCreateNode", {"customer_id": ann["id"], "note": NOTE, "total": total}, actor="shop")
    run_node(db, "CustomerUpdateNode", {"id": ann["id"], "fields": {"email": f"moved.{EMAIL}"}}, actor="ann")
    bo = run_node(db, "CustomerCreateNode", {"name": "Bo", "email": "bo@example.com"})
    run_node(db, "OrderCreateNode", {"customer_id": bo["id"], "note": "bo's note", "total": 1})
    return int(ann["id"])


def _everything(db: DataFlow) -> str:
    """Every row of every table, as text: what a scan of the database finds."""
    tables = [
        "customer",
        "order",
        "dataflow_audit",
        "dataflow_audit_head",
        "dataflow_audit_key",
        "dataflow_gdpr_erasure",
    ]
    quoted = [db.dialect.quote(t) for t in tables]
    return json.dumps([db.sql(f"SELECT * FROM {t}") for t in quoted], default=str)


@pytest.fixture
def shop(any_database_url: str) -> DataFlow:
    db = open_customers(any_database_url, master())
    yield db  # type: ignore[misc]
    db.close()


def test_export_holds_the_subject_its_tied_records_and_their_history_decrypted(shop: DataFlow) -> None:
    ann = _customer_with_orders(shop)
    document = json.loads(json.dumps(shop.gdpr.export("Customer", ann)))
    assert document["subject"]["model"] == "Customer" and document["subject"]["record"]["email"] == f"moved.{EMAIL}"
    assert sorted(o["total"] for o in document["records"]["Order"]) == [5, 7]
    changes = [(e["model"], e["operation"], e["changes"].get("email")) for e in document["history"]]
    assert ("Customer", "update", [EMAIL, f"moved.{EMAIL}"]) in changes
    assert sum(1 for e in document["history"] if e["model"] == "Order") == 2
    assert "bo@example.com" not in json.dumps(document) and "bo's note" not in json.dumps(document)


def test_erasure_by_anonymizing_leaves_no_personal_value_anywhere(shop: DataFlow) -> None:
    ann = _customer_with_orders(shop)
    result = shop.gdpr.erase("Customer", ann, mode="anonymize", actor="dpo")
    assert result.records == {"Customer": 1, "Order": 2} and not result.already_erased
    scan = _everything(shop)
    for secret in (EMAIL, str(PHONE), BORN.isoformat(), NOTE):
        assert secret not in scan, secret
    assert "bo@example.com" in shop.express_sync.read("Customer", ann + 1)["email"]
    record = shop.express_sync.read("Customer", ann)
    assert record["name"] == "Ann" and record["email"].startswith("erased-")
    assert shop.audit.verify().ok
    (erasure,) = shop.sql("SELECT * FROM dataflow_gdpr_erasure")
    assert (erasure["subject"], erasure["mode"], erasure["actor"]) == (f"Customer:{ann}", "anonymize", "dpo")
    history = shop.audit.history("Customer", ann)
    assert all(v is None or str(v).startswith("erased-") for e in history for v in e.changes.get("email", []))


def test_erasure_by_deleting_removes_the_subject_and_its_records(shop: DataFlow) -> None:
    ann = _customer_with_orders(shop)
    result = shop.gdpr.erase("Customer", ann, mode="delete")
    assert result.records == {"Order": 2, "Customer": 1}
    assert shop.express_sync.read("Customer", ann, raise_on_not_found=False) is None
    assert shop.express_sync.count("Order") == {"count": 1}
    scan = _everything(shop)
    assert EMAIL not in scan and NOTE not in scan
    assert shop.audit.verify().ok


def test_a_second_erasure_is_a_no_op_that_says_so(shop: DataFlow) -> None:
    ann = _customer_with_orders(shop)
    shop.gdpr.erase("Customer", ann)
    before = _everything(shop)
    again = shop.gdpr.erase("Customer", ann, mode="delete")
    assert again.already_erased and again.mode == "anonymize" and again.records == {}
    assert _everything(shop) == before


def test_a_missing_subject_is_a_clear_error_and_changes_nothing(shop: DataFlow) -> None:
    _customer_with_orders(shop)
    before = _everything(shop)
    with pytest.raises(NotFoundError, match="data subject Customer 999 does not exist; nothing was changed"):
        shop.gdpr.erase("Customer", 999)
    with pytest.raises(NotFoundError, match="does not exist"):
        shop.gdpr.export("Customer", 999)
    assert _everything(shop) == before


def test_bad_erasure_input_is_named(shop: DataFlow) -> None:
    with pytest.raises(ValidationError, match="mode must be 'anonymize' or 'delete'"):
        shop.gdpr.erase("Customer", 1, mode="shred")
    with pytest.raises(ConfigError, match="Order is not a data subject model"):
        shop.gdpr.export("Order", 1)
