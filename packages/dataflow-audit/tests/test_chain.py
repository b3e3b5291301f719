"""Tamper evidence: the chains verify, and an edited, deleted, inserted or reordered entry is named."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import audit_rows, people, run_node

from dataflow import DataFlow
from dataflow.testing.processes import DATAFLOW_CLI
from dataflow_audit.chain import entry_hash

HERE = Path(__file__).resolve().parent


def _trail(db: DataFlow) -> list[dict[str, Any]]:
    user = run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    for age in (1, 2, 3):
        run_node(db, "UserUpdateNode", {"id": user["id"], "fields": {"age": age}})
    return audit_rows(db)


def test_an_untouched_trail_verifies(db: DataFlow) -> None:
    _trail(db)
    run_node(db, "UserBulkCreateNode", {"data": people(50, start=10)})  # one bulk entry
    result = db.audit.verify()
    assert result.ok and result.entries == 5 and result.chains == 1, str(result)


def test_an_empty_trail_verifies_and_says_it_is_empty(db: DataFlow) -> None:
    result = db.audit.verify()
    assert result.ok and result.entries == 0
    assert str(result) == "audit trail is empty: nothing to verify"


def test_an_edited_entry_is_named(db: DataFlow) -> None:
    rows = _trail(db)
    db.sql("UPDATE dataflow_audit SET changes = :c WHERE id = :id", {"c": '{"age":[1,99]}', "id": rows[2]["id"]})
    result = db.audit.verify()
    assert not result.ok and result.bad is not None
    assert (result.bad.entry_id, result.bad.seq) == (rows[2]["id"], 3)
    assert "edited" in result.bad.problem


def test_an_edited_entry_with_a_recomputed_hash_is_caught_by_the_next_link(db: DataFlow) -> None:
    rows = _trail(db)
    forged = {**rows[1], "actor": "mallory"}
    db.sql(
        "UPDATE dataflow_audit SET actor = :a, hash = :h WHERE id = :id",
        {"a": "mallory", "h": entry_hash(forged, rows[1]["prev_hash"]), "id": rows[1]["id"]},
    )
    result = db.audit.verify()
    assert result.bad is not None and result.bad.entry_id == rows[2]["id"]
    assert "does not link" in result.bad.problem


def test_a_deleted_entry_is_named(db: DataFlow) -> None:
    rows = _trail(db)
    db.sql("DELETE FROM dataflow_audit WHERE id = :id", {"id": rows[1]["id"]})
    result = db.audit.verify()
    assert result.bad is not None and (result.bad.entry_id, result.bad.seq) == (rows[2]["id"], 3)
    assert "missing" in result.bad.problem


def test_deleting_the_newest_entries_is_caught_by_the_checkpoint(db: DataFlow) -> None:
    rows = _trail(db)
    db.sql("DELETE FROM dataflow_audit WHERE id = :id", {"id": rows[-1]["id"]})
    result = db.audit.verify()
    assert result.bad is not None and result.bad.seq == 3 and "checkpointed head" in result.bad.problem


def test_an_inserted_entry_is_named(db: DataFlow) -> None:
    rows = _trail(db)
    last = rows[-1]
    extra = {**last, "seq": last["seq"] + 1, "prev_hash": last["hash"], "changes": '{"age":[3,4]}'}
    extra["hash"] = entry_hash(extra, last["hash"])
    columns = [c for c in extra if c != "id"]
    db.sql(
        f"INSERT INTO dataflow_audit ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})",
        {c: extra[c] for c in columns},
    )
    result = db.audit.verify()
    assert result.bad is not None and result.bad.seq == 5 and "inserted" in result.bad.problem


def test_reordered_entries_are_named(db: DataFlow) -> None:
    rows = _trail(db)
    first, second = rows[1], rows[2]
    db.sql("UPDATE dataflow_audit SET seq = :s WHERE id = :id", {"s": 1000, "id": first["id"]})
    db.sql("UPDATE dataflow_audit SET seq = :s WHERE id = :id", {"s": first["seq"], "id": second["id"]})
    db.sql("UPDATE dataflow_audit SET seq = :s WHERE id = :id", {"s": second["seq"], "id": first["id"]})
    result = db.audit.verify()
    assert result.bad is not None and (result.bad.entry_id, result.bad.seq) == (second["id"], 2)


def _command(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``dataflow audit ...`` as a user runs it, on the test models of ``audit_app.py``."""
    (tmp_path / "audit_app.py").write_text("from audit_helpers import define_models, open_db\ndb = open_db(None)\n"
                                           "define_models(db)\n")  # fmt: skip
    env = {**os.environ, "DATAFLOW_DATABASE_URL": url, "PYTHONPATH": str(HERE)}
    return subprocess.run(
        [DATAFLOW_CLI, "audit", *args, "--models", "audit_app:db"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_verify_command_names_the_first_bad_entry(sqlite_db: DataFlow, tmp_path: Path) -> None:
    rows = _trail(sqlite_db)
    ok = _command(tmp_path, sqlite_db.label, "verify")
    assert ok.returncode == 0 and "verified: 4 entries in 1 chain" in ok.stdout, ok.stderr
    sqlite_db.sql("UPDATE dataflow_audit SET actor = 'mallory' WHERE id = :id", {"id": rows[0]["id"]})
    bad = _command(tmp_path, sqlite_db.label, "verify")
    assert bad.returncode == 1 and f"entry {rows[0]['id']} (seq 1)" in bad.stdout and "edited" in bad.stdout


def test_concurrent_writer_processes_never_fork_a_chain(db: DataFlow) -> None:
    db.express_sync.count("User")  # the tables exist before the writers race
    writers = [
        subprocess.Popen(
            [sys.executable, str(HERE / "writer.py"), db.url.render(hide_password=False), "15", f"w{i}"], cwd=HERE
        )
        for i in range(4)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    rows = audit_rows(db)
    assert len(rows) == 60
    assert sorted(r["seq"] for r in rows) == list(range(1, 61))
    result = db.audit.verify()
    assert result.ok and result.entries == 60, str(result)


@pytest.mark.parametrize("committed", [False, True], ids=["open", "committed"])
def test_a_killed_process_leaves_entries_only_for_what_it_committed(db: DataFlow, committed: bool) -> None:
    db.express_sync.count("User")
    what = "crash-committed" if committed else "crash-open"
    process = subprocess.Popen(
        [sys.executable, str(HERE / "writer.py"), db.url.render(hide_password=False), what],
        cwd=HERE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "written"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    users = db.express_sync.count("User")["count"]
    rows = audit_rows(db)
    assert (users, len(rows)) == ((1, 1) if committed else (0, 0))
    assert db.audit.verify().ok
