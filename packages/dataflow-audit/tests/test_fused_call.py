"""MariaDB's one CALL per audited update (ADR 0031): where its stored procedure comes from, and when it is not used.

What every fused form guarantees (same-transaction, rollback, no-op updates, verify, history, kinds,
concurrency) is in test_fused_update.py, which runs on MariaDB too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from audit_helpers import audit_rows, open_db, run_node
from test_fused_update import EventLog

from dataflow import DataFlow, LocalRuntime, MaxLength, WorkflowBuilder
from dataflow.errors import WorkflowError
from dataflow.plugins import plugin_registered
from dataflow.testing.servers import fresh_database

ROUTINES = "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY 1"


@pytest.fixture
def url(request: Any, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database("mysql", request, tmp_path)


def _logged(url: str, log: EventLog, *, wide: bool = False) -> DataFlow:
    """A fresh instance (as a new process has) with Item; ``wide``: its label longer, and a new column."""
    with plugin_registered(log, "fused-call-log"):
        db = open_db(url)
    if wide:

        @db.model
        class Item:
            label: Annotated[str, MaxLength(100)]
            qty: int = 0
            note: str | None = None
            __dataflow__ = {"audit": True}

    else:

        @db.model  # type: ignore[no-redef]
        class Item:
            label: Annotated[str, MaxLength(20)]
            qty: int = 0
            __dataflow__ = {"audit": True}

    return db


def _procedures(db: DataFlow) -> list[str]:
    return [row["ROUTINE_NAME"] for row in db.sql(ROUTINES)]


def test_the_procedure_is_made_once_outside_a_transaction_then_each_update_is_one_call(url: str) -> None:
    log = EventLog()
    db = _logged(url, log)
    try:
        item = run_node(db, "ItemCreateNode", {"label": "a"})
        assert _procedures(db) == []
        run_node(db, "ItemUpdateNode", {"id": item["id"], "fields": {"qty": 1}})
        (name,) = _procedures(db)
        assert name.startswith("dataflow_audit_update_")
        mark = len(log.events)
        assert run_node(db, "ItemUpdateNode", {"id": item["id"], "fields": {"qty": 2, "label": "b"}})["qty"] == 2
        assert log.since(mark) == ([f"CALL `{name}`({', '.join(['%s'] * 14)})"], 0)
        assert [r["changes"] for r in audit_rows(db)[1:]] == ['{"qty":[0,1]}', '{"label":["a","b"],"qty":[1,2]}']
        assert db.audit.verify().ok
    finally:
        db.close()


def test_inside_a_transaction_an_unknown_procedure_is_looked_up_never_made(url: str) -> None:
    log = EventLog()
    db = _logged(url, log)
    try:
        item = run_node(db, "ItemCreateNode", {"label": "a"})
        mark = len(log.events)
        run_node(db, "ItemUpdateNode", {"id": item["id"], "fields": {"qty": 1}}, transaction=True)
        statements, _ = log.since(mark)
        # A CREATE would commit the run's transaction: the update is captured as usual instead.
        assert not any(s.startswith(("CREATE", "CALL")) for s in statements) and _procedures(db) == []
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["ItemUpdateNode"], "update", {"id": item["id"], "fields": {"qty": 5}})
        workflow.add_node(db.nodes["ItemUpdateNode"], "missing", {"id": 999, "fields": {"qty": 6}})
        with pytest.raises(WorkflowError):
            LocalRuntime().execute(workflow.build(), transaction=True)
        assert db.express_sync.read("Item", item["id"])["qty"] == 1 and len(audit_rows(db)) == 2
        run_node(db, "ItemUpdateNode", {"id": item["id"], "fields": {"qty": 2}})  # outside: made now
    finally:
        db.close()
    other = _logged(url, log)  # another process: it finds the procedure inside its transaction, and calls it
    try:
        mark = len(log.events)
        run_node(other, "ItemUpdateNode", {"id": item["id"], "fields": {"qty": 3}}, transaction=True)
        statements, _ = log.since(mark)
        assert any(s.startswith("SELECT 1 FROM information_schema.ROUTINES") for s in statements)
        assert any(s.startswith("CALL") for s in statements)
        assert [r["changes"] for r in audit_rows(other)[-2:]] == ['{"qty":[1,2]}', '{"qty":[2,3]}']
        assert other.audit.verify().ok
    finally:
        other.close()


def test_a_migrated_model_gets_a_procedure_of_its_new_columns(url: str) -> None:
    log = EventLog()
    db = _logged(url, log)
    try:
        item = run_node(db, "ItemCreateNode", {"label": "a"})
        run_node(db, "ItemUpdateNode", {"id": item["id"], "fields": {"label": "b"}})
        (old,) = _procedures(db)
    finally:
        db.close()
    wide = _logged(url, log, wide=True)
    try:
        wide.migrate()
        long = "x" * 100  # does not fit the old procedure's VARCHAR(20) parameter
        mark = len(log.events)
        run_node(wide, "ItemUpdateNode", {"id": item["id"], "fields": {"label": long, "note": "n"}})
        statements, _ = log.since(mark)
        assert statements[-1].startswith("CALL") and old not in statements[-1]
        assert old in _procedures(wide) and len(_procedures(wide)) == 2
        assert wide.express_sync.read("Item", item["id"])["label"] == long
        assert wide.audit.history("Item", item["id"], limit=1)[0].changes == {"label": ["b", long], "note": [None, "n"]}
        assert wide.audit.verify().ok
    finally:
        wide.close()


@pytest.mark.parametrize("in_transaction", [False, True], ids=["alone", "in-a-transaction"])
def test_a_procedure_dropped_by_hand_is_made_again_and_no_update_fails(url: str, in_transaction: bool) -> None:
    log = EventLog()
    db = _logged(url, log)
    try:
        item = run_node(db, "ItemCreateNode", {"label": "a"})
        run_node(db, "ItemUpdateNode", {"id": item["id"], "fields": {"qty": 1}})
        (name,) = _procedures(db)
        db.sql(f"DROP PROCEDURE `{name}`")
        runtime = LocalRuntime()
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["ItemUpdateNode"], "update", {"id": item["id"], "fields": {"qty": 2}})
        results, _ = runtime.execute(workflow.build(), transaction=in_transaction)
        assert results["update"]["qty"] == 2  # the usual capture, in the same run
        run_node(db, "ItemUpdateNode", {"id": item["id"], "fields": {"qty": 3}})
        assert _procedures(db) == [name]  # made again by the next update outside a transaction
        assert [r["changes"] for r in audit_rows(db)[1:]] == ['{"qty":[0,1]}', '{"qty":[1,2]}', '{"qty":[2,3]}']
        assert db.audit.verify().ok
    finally:
        db.close()
