"""Bulk entries: a bulk create of consecutive keys is one entry, read back as each record's own entry."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path

import attrs
from audit_helpers import audit_rows, define_models, open_db, people, run_node
from test_gdpr import NOTE, _everything
from test_personal import EMAIL, master, open_customers

from dataflow import DataFlow, LocalRuntime, WorkflowBuilder
from dataflow.testing.processes import DATAFLOW_CLI
from dataflow_audit import AuditHistoryNode
from dataflow_audit.tables import ENTRIES, RANGE

HERE = Path(__file__).resolve().parent


def _bulk(db: DataFlow, n: int = 120) -> tuple[list[int], str]:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["UserBulkCreateNode"], "load", {"data": people(n), "return_ids": True})
    results, run_id = LocalRuntime().execute(workflow.build(), actor="loader")
    return list(results["load"]["ids"]), run_id


def test_a_record_inside_a_bulk_entry_has_its_own_history_and_as_of(db: DataFlow) -> None:
    ids, run_id = _bulk(db)
    (stored,) = audit_rows(db)
    assert (stored["key_low"], stored["key_high"], stored["record_key"]) == (ids[0], ids[-1], str(ids[0]))
    middle = ids[57]
    time.sleep(0.01)
    after_load = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    run_node(db, "UserUpdateNode", {"id": middle, "fields": {"age": 1}}, actor="alice")
    update, create = db.audit.history("User", middle)
    assert (create.key, create.operation, create.actor, create.run_id, create.node_id) == (
        str(middle), "create", "loader", run_id, "load",
    )  # fmt: skip
    assert create.changes == {"name": [None, "user57"], "email": [None, "user57@example.com"], "age": [None, 57]}
    assert update.changes == {"age": [57, 1]}
    assert db.audit.history("User", middle, operation="create", actor="loader")[0].changes == create.changes
    assert db.audit.history("User", ids[-1])[0].changes["name"] == [None, f"user{len(ids) - 1}"]
    assert db.audit.history("User", ids[-1] + 1) == []
    assert db.audit.as_of("User", middle, at=after_load) == {
        "id": middle, "name": "user57", "email": "user57@example.com", "age": 57,
    }  # fmt: skip
    assert db.audit.as_of("User", middle, at=dt.datetime.now(dt.UTC))["age"] == 1
    assert db.audit.as_of("User", middle, at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) is None


def test_the_history_node_shows_a_record_of_a_bulk_entry(db: DataFlow) -> None:
    ids, run_id = _bulk(db, 5)
    workflow = WorkflowBuilder()
    workflow.add_node(AuditHistoryNode, "history", {"model": "User", "id": ids[3], "database": db})
    results, _ = LocalRuntime().execute(workflow.build())
    (entry,) = results["history"]["entries"]
    assert (entry["key"], entry["run_id"], entry["changes"]["email"]) == (
        str(ids[3]),
        run_id,
        [None, "user3@example.com"],
    )


def test_verify_names_an_edited_bulk_entry(db: DataFlow) -> None:
    _bulk(db, 60)
    (stored,) = audit_rows(db)
    edited = stored["changes"].replace('"user42@example.com"', '"mallory@example.com"')
    assert edited != stored["changes"]
    db.sql("UPDATE dataflow_audit SET changes = :c WHERE id = :id", {"c": edited, "id": stored["id"]})
    result = db.audit.verify()
    assert not result.ok and result.bad is not None
    assert (result.bad.entry_id, result.bad.seq) == (stored["id"], 1) and "edited" in result.bad.problem


def test_verify_names_a_bulk_entry_whose_range_was_moved(db: DataFlow) -> None:
    _bulk(db, 60)
    (stored,) = audit_rows(db)
    db.sql("UPDATE dataflow_audit SET key_high = key_high + 1 WHERE id = :id", {"id": stored["id"]})
    result = db.audit.verify()
    assert result.bad is not None and result.bad.entry_id == stored["id"] and "edited" in result.bad.problem


def test_keys_that_are_not_consecutive_get_an_entry_each(db: DataFlow) -> None:
    data = [{**person, "id": key} for person, key in zip(people(3), (10, 12, 30), strict=True)]
    assert run_node(db, "UserBulkCreateNode", {"data": data}) == {"inserted": 3}
    rows = audit_rows(db)
    assert [(r["record_key"], r["key_low"], r["key_high"]) for r in rows] == [("10", None, None), ("12", None, None),
                                                                              ("30", None, None)]  # fmt: skip
    assert db.audit.history("User", 12)[0].changes["name"] == [None, "user1"]
    assert db.audit.history("User", 11) == []
    assert db.audit.verify().ok


def test_a_bulk_entry_of_personal_values_is_exported_decrypted_and_erased(any_database_url: str) -> None:
    db = open_customers(any_database_url, master())
    try:
        ann = run_node(db, "CustomerCreateNode", {"name": "Ann", "email": EMAIL})["id"]
        bo = run_node(db, "CustomerCreateNode", {"name": "Bo", "email": "bo@example.com"})["id"]
        orders = [{"customer_id": ann if i % 2 else bo, "note": f"{NOTE} #{i}!", "total": i} for i in range(40)]
        created = run_node(db, "OrderBulkCreateNode", {"data": orders, "return_ids": True}, actor="shop")
        (bulk,) = [r for r in audit_rows(db) if r["model"] == "Order"]
        assert bulk["key_low"] == created["ids"][0] and NOTE not in bulk["changes"]
        document = json.loads(json.dumps(db.gdpr.export("Customer", ann)))
        notes = sorted(e["changes"]["note"][1] for e in document["history"] if e["model"] == "Order")
        assert notes == sorted(f"{NOTE} #{i}!" for i in range(1, 40, 2))
        assert "#0!" not in json.dumps(document)  # Bo's orders stay out of Ann's export
        db.gdpr.erase("Customer", ann, mode="anonymize")
        scan = _everything(db)
        assert not [i for i in range(1, 40, 2) if f"{NOTE} #{i}!" in scan]
        assert db.audit.verify().ok
        (create,) = db.audit.history("Order", created["ids"][1], operation="create")
        assert create.changes["note"] == [None, None] and create.changes["total"] == [None, 1]
        assert db.audit.history("Order", created["ids"][0], operation="create")[0].changes["note"][1] == f"{NOTE} #0!"
    finally:
        db.close()


def test_a_trail_table_from_before_bulk_entries_gets_the_range_columns(any_database_url: str) -> None:
    old = attrs.evolve(
        ENTRIES,
        fields=tuple(f for f in ENTRIES.fields if f.name not in RANGE),
        indexes=tuple(group for group in ENTRIES.indexes if not set(group) & set(RANGE)),
    )
    first = open_db(any_database_url)

    async def make_old_table() -> None:
        async with first.standalone_session() as session:
            for statement in session.dialect.create_table_sql(old, {old.name: old}):
                await session.execute(statement)

    asyncio.run(make_old_table())
    first.close()
    db = open_db(any_database_url)
    define_models(db)
    try:
        ids, _ = _bulk(db, 10)
        assert db.audit.history("User", ids[4])[0].changes["age"] == [None, 4]
        assert db.audit.verify().ok
    finally:
        db.close()


def test_the_log_command_prints_a_record_of_a_bulk_entry(sqlite_db: DataFlow, tmp_path: Path) -> None:
    ids, run_id = _bulk(sqlite_db, 30)
    (tmp_path / "audit_app.py").write_text("from audit_helpers import define_models, open_db\ndb = open_db(None)\n"
                                           "define_models(db)\n")  # fmt: skip
    env = {**os.environ, "DATAFLOW_DATABASE_URL": sqlite_db.label, "PYTHONPATH": str(HERE)}
    command = [
        DATAFLOW_CLI,
        "audit",
        "log",
        "--models",
        "audit_app:db",
        "--model",
        "User",
        "--id",
        str(ids[7]),
        "--json",
    ]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=True)
    (entry,) = json.loads(done.stdout)
    assert (entry["key"], entry["operation"], entry["actor"], entry["run_id"]) == (
        str(ids[7]),
        "create",
        "loader",
        run_id,
    )
    assert entry["changes"] == {"age": [None, 7], "email": [None, "user7@example.com"], "name": [None, "user7"]}
