"""History: one record's entries newest first, filtered; the record as it was; the node and the command."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from audit_helpers import run_node

from dataflow import DataFlow, LocalRuntime, WorkflowBuilder
from dataflow.errors import ConfigError, ValidationError
from dataflow.testing.processes import DATAFLOW_CLI
from dataflow_audit import AuditHistoryNode

HERE = Path(__file__).resolve().parent


def _story(db: DataFlow) -> tuple[int, list[dt.datetime]]:
    """Ann is created by ops, renamed by alice, aged by bob; the moments between the steps."""
    moments = []
    user = run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com", "age": 30}, actor="ops")
    for actor, fields in (("alice", {"name": "Anna"}), ("bob", {"age": 31})):
        time.sleep(0.01)
        moments.append(dt.datetime.now(dt.UTC))
        time.sleep(0.01)
        run_node(db, "UserUpdateNode", {"id": user["id"], "fields": fields}, actor=actor)
    return user["id"], moments


def test_history_filters_by_actor_operation_and_time(db: DataFlow) -> None:
    key, (after_create, after_rename) = _story(db)
    assert [e.actor for e in db.audit.history("User", key)] == ["bob", "alice", "ops"]
    assert [e.changes for e in db.audit.history("User", key, actor="alice")] == [{"name": ["Ann", "Anna"]}]
    assert [e.actor for e in db.audit.history("User", key, operation="create")] == ["ops"]
    assert [e.actor for e in db.audit.history("User", key, since=after_create)] == ["bob", "alice"]
    assert [e.actor for e in db.audit.history("User", key, until=after_rename)] == ["alice", "ops"]
    assert [e.actor for e in db.audit.history("User", key, limit=1)] == ["bob"]
    assert db.audit.history("User", key + 1000) == []


def test_as_of_rebuilds_the_record_at_each_moment(db: DataFlow) -> None:
    key, (after_create, after_rename) = _story(db)
    before_anything = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    assert db.audit.as_of("User", key, at=before_anything) is None
    assert db.audit.as_of("User", key, at=after_create) == {
        "id": key, "name": "Ann", "email": "ann@example.com", "age": 30,
    }  # fmt: skip
    assert db.audit.as_of("User", key, at=after_rename)["name"] == "Anna"  # type: ignore[index]
    now = db.audit.as_of("User", key, at=dt.datetime.now(dt.UTC))
    assert now == {"id": key, "name": "Anna", "email": "ann@example.com", "age": 31}
    run_node(db, "UserDeleteNode", {"id": key})
    assert db.audit.as_of("User", key, at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)) is None


def test_bad_history_input_is_named(sqlite_db: DataFlow) -> None:
    with pytest.raises(ValidationError, match="operation must be one of create, update, delete"):
        sqlite_db.audit.history("User", 1, operation="upsert")
    with pytest.raises(ValidationError, match="since must be a datetime"):
        sqlite_db.audit.history("User", 1, since="yesterday")
    with pytest.raises(ConfigError, match="no model 'Usr'"):
        sqlite_db.audit.history("Usr", 1)


def test_the_history_node_reads_inside_the_run(db: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["UserCreateNode"], "create", {"name": "Ann", "email": "ann@example.com"})
    workflow.add_node(db.nodes["UserUpdateNode"], "update", {"fields": {"age": 9}})
    workflow.add_node(AuditHistoryNode, "history", {"model": "User", "database": db})
    workflow.add_connection("create", "id", "update", "id")
    workflow.add_connection("update", "id", "history", "id")
    results, run_id = LocalRuntime().execute(workflow.build(), transaction=True, actor="alice")
    history = results["history"]
    assert history["count"] == 2
    assert [(e["operation"], e["run_id"], e["actor"]) for e in history["entries"]] == [
        ("update", run_id, "alice"),
        ("create", run_id, "alice"),
    ]


def test_the_log_command_prints_a_record_history(sqlite_db: DataFlow, tmp_path: Path) -> None:
    key, _ = _story(sqlite_db)
    (tmp_path / "audit_app.py").write_text("from audit_helpers import define_models, open_db\ndb = open_db(None)\n"
                                           "define_models(db)\n")  # fmt: skip
    env = {**os.environ, "DATAFLOW_DATABASE_URL": sqlite_db.label, "PYTHONPATH": str(HERE)}
    command = [DATAFLOW_CLI, "audit", "log", "--models", "audit_app:db", "--model", "User", "--id", str(key)]
    lines = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=True)
    printed = lines.stdout.splitlines()
    assert len(printed) == 3 and "update by bob" in printed[0] and "age: 30 -> 31" in printed[0]
    as_json = subprocess.run(
        [*command, "--json", "--actor", "alice"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert [e["changes"] for e in json.loads(as_json.stdout)] == [{"name": ["Ann", "Anna"]}]
