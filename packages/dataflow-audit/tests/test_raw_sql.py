"""Raw SQL on audited tables: refused where the change is unknown, recorded where it returns the rows it changed."""

from __future__ import annotations

import pytest
from audit_helpers import audit_rows, people

from dataflow import DataFlow, LocalRuntime, WorkflowBuilder
from dataflow.errors import ValidationError, WorkflowError


def _user_table(db: DataFlow) -> str:
    return db.dialect.quote("user")


def _returning(db: DataFlow, operation: str) -> None:
    db.sql("SELECT 1")  # MySQL's dialect knows its server's capabilities once connected
    if operation not in db.dialect.capabilities.returning:
        pytest.skip(f"{db.dialect.name} has no {operation.upper()} ... RETURNING")


def _emails(db: DataFlow) -> list[str]:
    return sorted(r["email"] for r in db.express_sync.list("User")["records"])


@pytest.mark.parametrize(
    "query",
    [
        "UPDATE {user} SET age = age + 1",
        "update {user} set age = 0 where email like 'user%'",
        "DELETE FROM {user} WHERE age > 0",
        "INSERT INTO {user} (name, email, age) VALUES ('Raw', 'raw@example.com', 1)",
        "/* a comment first */ DELETE FROM {user}",
        "WITH gone AS (DELETE FROM {user} RETURNING id) SELECT COUNT(*) FROM gone",
        "EXPLAIN ANALYZE DELETE FROM {user}",
    ],
)
def test_a_raw_write_of_an_audited_table_is_refused_and_changes_nothing(db: DataFlow, query: str) -> None:
    db.express_sync.bulk_create("User", people(3))
    before = _emails(db), audit_rows(db)
    refused = "raw SQL writes the table 'user' of User, whose changes are captured"
    with pytest.raises(ValidationError, match=refused) as e:
        db.sql(query.format(user=_user_table(db)))
    assert (e.value.model, e.value.field) == ("User", "query")
    assert (_emails(db), audit_rows(db)) == before


def test_a_raw_write_that_only_reads_an_audited_table_runs(db: DataFlow) -> None:
    db.express_sync.bulk_create("User", people(3))
    copied = db.sql(f"INSERT INTO tag (label) SELECT name FROM {_user_table(db)} WHERE age < 2", result="none")
    assert copied == 2 and db.express_sync.count("Tag") == {"count": 2}
    assert db.sql("UPDATE tag SET label = 'user'", result="none") == 2  # a string that names the table is no table
    assert db.sql(f"SELECT COUNT(*) AS n FROM {_user_table(db)}", result="value") == 3
    assert db.sql(f"WITH n AS (SELECT id FROM {_user_table(db)}) SELECT COUNT(*) FROM n", result="value") == 3
    assert db.sql(f"EXPLAIN SELECT * FROM {_user_table(db)}")  # EXPLAIN without ANALYZE does not run it


def test_a_named_insert_returning_whole_rows_is_recorded(db: DataFlow) -> None:
    _returning(db, "insert")
    query = f"INSERT INTO {_user_table(db)} (name, email, age) VALUES (:name, :email, :age) RETURNING *"
    with db.actor("loader"):
        (row,) = db.sql(query, {"name": "Raw", "email": "raw@example.com", "age": 7}, model="User")
    (entry,) = db.audit.history("User", row["id"])
    assert (entry.operation, entry.actor, entry.node_id) == ("create", "loader", "express.sql")
    assert entry.changes == {"name": [None, "Raw"], "email": [None, "raw@example.com"], "age": [None, 7]}
    assert db.audit.verify().ok


def test_a_named_delete_returning_whole_rows_is_recorded_in_the_runs_transaction(db: DataFlow) -> None:
    _returning(db, "delete")
    db.express_sync.bulk_create("User", people(4))
    workflow = WorkflowBuilder()
    query = f"DELETE FROM {_user_table(db)} WHERE age >= :least RETURNING *"
    workflow.add_node("SQLNode", "purge", {"query": query, "params": {"least": 2}, "model": "User", "database": db})
    results, run_id = LocalRuntime().execute(workflow.build(), actor="dba", transaction=True)
    assert results["purge"]["count"] == 2
    deletes = [r for r in audit_rows(db) if r["operation"] == "delete"]
    assert [(r["actor"], r["node_id"], r["run_id"]) for r in deletes] == [("dba", "purge", run_id)] * 2
    assert _emails(db) == ["user0@example.com", "user1@example.com"]
    assert db.audit.verify().ok


def test_a_failure_after_a_named_raw_write_leaves_neither_the_rows_nor_their_entries(db: DataFlow) -> None:
    _returning(db, "delete")
    db.express_sync.bulk_create("User", people(2))
    before = _emails(db), audit_rows(db)
    workflow = WorkflowBuilder()
    query = f"DELETE FROM {_user_table(db)} RETURNING *"
    workflow.add_node("SQLNode", "purge", {"query": query, "model": "User", "database": db})
    workflow.add_node("UserCreateNode", "fail", {"name": "x" * 500, "email": "x@example.com"})
    workflow.add_connection("purge", "count", "fail", "age")
    with pytest.raises(WorkflowError):
        LocalRuntime().execute(workflow.build(), transaction=True)
    assert (_emails(db), audit_rows(db)) == before


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("UPDATE {user} SET age = 1 RETURNING *", "an UPDATE .* returns the rows only as they are after it"),
        ("DELETE FROM {user}", "runs only as an INSERT or DELETE ending in RETURNING"),
        ("TRUNCATE TABLE {user}", "a TRUNCATE statement cannot return the rows it changed"),
    ],
)
def test_a_named_raw_write_whose_change_is_unknown_is_refused(db: DataFlow, query: str, message: str) -> None:
    db.express_sync.bulk_create("User", people(2))
    before = _emails(db), audit_rows(db)
    with pytest.raises(ValidationError, match=message) as refused:
        db.sql(query.format(user=_user_table(db)), model="User")
    assert (refused.value.model, refused.value.field) == ("User", "query")
    assert (_emails(db), audit_rows(db)) == before


def test_a_named_raw_write_returning_part_of_the_rows_is_rolled_back(db: DataFlow) -> None:
    _returning(db, "delete")
    db.express_sync.bulk_create("User", people(2))
    before = _emails(db), audit_rows(db)
    with pytest.raises(ValidationError, match=r"must return whole rows .*; it leaves out name, email, age"):
        db.sql(f"DELETE FROM {_user_table(db)} RETURNING id", model="User")
    assert (_emails(db), audit_rows(db)) == before


def test_a_named_raw_write_of_another_table_is_refused(db: DataFlow) -> None:
    with pytest.raises(ValidationError, match="names model 'User', but the statement writes 'note', not 'user' alone"):
        db.sql("DELETE FROM note RETURNING *", model="User")
    with pytest.raises(ValidationError, match="writes none of the captured tables"):
        db.sql("DELETE FROM tag RETURNING *", model="User")
