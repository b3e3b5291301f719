"""The audit trail: every write of an audited model leaves entries in its own transaction, with who and where."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from audit_helpers import audit_rows, define_models, open_db, people, run_node

from dataflow import DataFlow, LocalRuntime, WorkflowBuilder
from dataflow.errors import ConfigError, WorkflowError
from dataflow_audit import Audit


def test_create_update_delete_record_operation_changes_actor_run_and_node(db: DataFlow) -> None:
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    user = run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com", "age": 30}, "signup", actor="ops")
    run_node(db, "UserUpdateNode", {"id": user["id"], "fields": {"age": 31}}, "birthday", actor="alice")
    run_node(db, "UserDeleteNode", {"id": user["id"]}, "gdpr", actor="bob")
    entries = db.audit.history("User", user["id"])
    assert [(e.operation, e.actor, e.node_id) for e in entries] == [
        ("delete", "bob", "gdpr"),
        ("update", "alice", "birthday"),
        ("create", "ops", "signup"),
    ]
    delete, update, create = entries
    assert create.changes == {"name": [None, "Ann"], "email": [None, "ann@example.com"], "age": [None, 30]}
    assert update.changes == {"age": [30, 31]}
    assert delete.changes["email"] == ["ann@example.com", None]
    assert all(e.run_id and e.at >= started and e.key == str(user["id"]) for e in entries)
    assert len({e.run_id for e in entries}) == 3


def test_the_direct_api_records_the_actor_of_the_enclosing_block(db: DataFlow) -> None:
    with db.actor("alice"):
        user = db.express_sync.create("User", {"name": "Ann", "email": "ann@example.com"})
        db.express_sync.update("User", user["id"], {"name": "Anna"})
    db.express_sync.using(actor="carol").update("User", user["id"], {"name": "Anne"})
    db.express_sync.update("User", user["id"], {"name": "Ann"})
    actors = [(e.actor, e.node_id) for e in db.audit.history("User", user["id"])]
    assert actors == [(None, "express.update"), ("carol", "express.update"), ("alice", "express.update"),
                      ("alice", "express.create")]  # fmt: skip


def test_a_list_of_fields_records_only_those_fields(db: DataFlow) -> None:
    note = run_node(db, "NoteCreateNode", {"title": "t", "body": "b", "views": 1})
    run_node(db, "NoteUpdateNode", {"id": note["id"], "fields": {"views": 2}})  # not audited: no entry
    run_node(db, "NoteUpdateNode", {"id": note["id"], "fields": {"title": "t2", "views": 3}})
    entries = db.audit.history("Note", note["id"])
    assert [e.changes for e in entries] == [{"title": ["t", "t2"]}, {"title": [None, "t"], "body": [None, "b"]}]


def test_models_without_audit_leave_no_entries(db: DataFlow) -> None:
    run_node(db, "TagCreateNode", {"label": "x"})
    assert audit_rows(db) == []
    assert getattr(db.nodes["TagCreateNode"], "captured_run") is None  # noqa: B009 - pays nothing


def test_bulk_writes_record_every_row(db: DataFlow) -> None:
    """The bulk create is one bulk entry over its keys; updates, upserts and deletes one entry per row."""
    assert run_node(db, "UserBulkCreateNode", {"data": people(1200)}, actor="loader") == {"inserted": 1200}
    run_node(db, "UserBulkUpdateNode", {"filter": {"age": {"$lt": 10}}, "fields": {"age": 99}})
    upsert = [{"name": "new", "email": "new@example.com"}, {"name": "u0", "email": "user0@example.com", "age": 99}]
    assert run_node(db, "UserBulkUpsertNode", {"data": upsert, "conflict_on": ["email"]}) == {
        "inserted": 1,
        "updated": 1,
    }
    run_node(db, "UserBulkDeleteNode", {"filter": {"age": 99}})
    rows = audit_rows(db)
    operations = [r["operation"] for r in rows]
    updated_by_filter = sum(1 for p in people(1200) if p["age"] < 10)
    bulk, upserted = (r for r in rows if r["operation"] == "create")
    assert (bulk["record_key"], bulk["key_low"], bulk["key_high"], bulk["actor"]) == ("1", 1, 1200, "loader")
    assert [len(column) for column in json.loads(bulk["changes"])["columns"]] == [1200] * 3
    assert (upserted["record_key"], upserted["key_low"]) == ("1201", None)
    assert operations.count("update") == updated_by_filter + 1
    assert operations.count("delete") == updated_by_filter


def test_a_failure_after_the_write_leaves_neither_the_write_nor_its_entries(db: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["UserCreateNode"], "create", {"name": "Ann", "email": "ann@example.com"})
    workflow.add_node(db.nodes["UserCreateNode"], "again", {"name": "Ann", "email": "ann@example.com"})
    workflow.add_connection("create", "name", "again", "name")
    with pytest.raises(WorkflowError):
        LocalRuntime().execute(workflow.build(), transaction=True, actor="alice")
    assert db.express_sync.count("User") == {"count": 0}
    assert audit_rows(db) == []
    assert db.audit.verify().ok


def test_a_committed_run_always_has_its_entries(db: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["UserCreateNode"], "create", {"name": "Ann", "email": "ann@example.com"})
    workflow.add_node(db.nodes["UserUpdateNode"], "update", {"fields": {"age": 5}})
    workflow.add_connection("create", "id", "update", "id")
    _, run_id = LocalRuntime().execute(workflow.build(), transaction=True, actor="alice")
    rows = audit_rows(db)
    assert [(r["operation"], r["run_id"], r["node_id"]) for r in rows] == [
        ("create", run_id, "create"),
        ("update", run_id, "update"),
    ]


def test_a_bad_audit_option_is_refused_when_the_model_is_defined(tmp_path: Path) -> None:
    db = open_db(f"sqlite:///{tmp_path}/bad.db")
    try:
        with pytest.raises(ConfigError, match="'nmae', which is not a field; did you mean 'name'"):

            @db.model
            class Person:
                name: str
                __dataflow__ = {"audit": ["nmae"]}

        assert "Person" not in db.schemas
        with pytest.raises(ConfigError, match="must be True or a non-empty list"):

            @db.model
            class Other:
                name: str
                __dataflow__ = {"audit": "name"}
    finally:
        db.close()


def test_two_instances_keep_their_own_actor(tmp_path: Path) -> None:
    first, second = open_db(f"sqlite:///{tmp_path}/a.db"), open_db(f"sqlite:///{tmp_path}/b.db")
    try:
        define_models(first)
        define_models(second)
        with first.actor("alice"):
            first.express_sync.create("User", {"name": "A", "email": "a@example.com"})
            second.express_sync.create("User", {"name": "B", "email": "b@example.com"})
        assert [r["actor"] for r in audit_rows(first)] == ["alice"]
        assert [r["actor"] for r in audit_rows(second)] == [None]
        assert Audit.of(first) is not Audit.of(second)
    finally:
        first.close()
        second.close()
