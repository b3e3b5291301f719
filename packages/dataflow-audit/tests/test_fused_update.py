"""A one-record audited update runs in one go: one statement on PostgreSQL (ADR 0025), one program in one hop on
SQLite (ADR 0030), one CALL of the model's stored procedure on MariaDB (ADR 0031); the write, its entry and the
chain head together, recorded as the usual capture records them."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import itertools
import json
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from audit_helpers import audit_rows, define_models, open_db, run_node

from dataflow import DataFlow, LocalRuntime, Personal, WorkflowBuilder
from dataflow.errors import NotFoundError, UniqueViolationError, WorkflowError
from dataflow.events import StatementExecuted, TransactionFinished
from dataflow.plugins import hookimpl, plugin_registered
from dataflow.testing.servers import fresh_database
from dataflow_audit import Audit
from dataflow_audit.chain import entry_hash
from dataflow_audit.values import plain

HERE = Path(__file__).resolve().parent


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Size(enum.Enum):
    SMALL = 1
    LARGE = 2


class EventLog:
    """Every statement and transaction end of the instances made while it is registered."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def handle(self, event: Any) -> None:
        self.events.append(event)

    @hookimpl
    def dataflow_register_monitors(self, register: Any) -> None:
        register(self)

    def since(self, mark: int) -> tuple[list[str], int]:
        """The statements after event ``mark``, and how many transactions ended meanwhile."""
        later = self.events[mark:]
        statements = [e.sql for e in later if isinstance(e, StatementExecuted)]
        return statements, sum(isinstance(e, TransactionFinished) for e in later)


@pytest.fixture(params=("sqlite", "postgres", "mysql"))
def fused(request: Any, tmp_path: Path) -> Iterator[tuple[DataFlow, EventLog]]:
    """The test models on a fresh SQLite file, PostgreSQL schema and MariaDB database, every statement logged."""
    log = EventLog()
    for url in fresh_database(request.param, request, tmp_path):
        with plugin_registered(log, "fused-update-log"):
            db = open_db(url)
        define_models(db)

        @db.model
        class Kinds:
            text: str | None = None
            number: int | None = None
            ratio: float | None = None
            flag: bool | None = None
            token: uuid.UUID | None = None
            moment: dt.datetime | None = None
            day: dt.date | None = None
            colour: Colour | None = None
            size: Size | None = None
            __dataflow__ = {"audit": True}

        try:
            yield db, log
        finally:
            db.close()


def _ann(db: DataFlow) -> dict[str, Any]:
    """A user whose chain has a head already (its create wrote the first entry)."""
    return dict(run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"}))


def _head(db: DataFlow) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = db.sql("SELECT * FROM dataflow_audit_head ORDER BY chain")
    return rows


def test_an_audited_update_by_id_is_one_statement_with_no_transaction(fused: tuple[DataFlow, EventLog]) -> None:
    db, log = fused
    ann = _ann(db)
    run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": 1}})  # reads the chain's head once
    mark = len(log.events)
    record = run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": 30, "name": "Anna"}})
    statements, transactions = log.since(mark)
    # PostgreSQL: WITH written AS (UPDATE ...) ...; SQLite: one program, reported as its UPDATE; MariaDB: one CALL.
    first = {"postgresql": "WITH", "sqlite": "UPDATE", "mysql": "CALL"}[db.dialect.name]
    assert len(statements) == 1 and statements[0].startswith(first)
    assert transactions == 0
    assert record == {**ann, "age": 30, "name": "Anna"}
    assert db.express_sync.read("User", ann["id"]) == record
    last = audit_rows(db)[-1]
    assert (last["operation"], last["record_key"], last["seq"]) == ("update", str(ann["id"]), 3)
    assert json.loads(last["changes"]) == {"age": [1, 30], "name": ["Ann", "Anna"]}


def test_fused_entries_chain_and_verify_as_the_verifier_recomputes_them(fused: tuple[DataFlow, EventLog]) -> None:
    db, _ = fused
    ann = _ann(db)
    for age in (1, 2, 3):
        run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": age}}, actor="alice")
    rows = audit_rows(db)
    prev = ""
    for row in rows:
        assert row["prev_hash"] == prev and entry_hash(row, prev) == row["hash"]
        prev = row["hash"]
    assert [r["actor"] for r in rows] == [None, "alice", "alice", "alice"]
    assert _head(db)[0]["seq"] == 4 and _head(db)[0]["hash"] == prev
    assert db.audit.verify().ok


def test_history_and_as_of_read_fused_entries_back(fused: tuple[DataFlow, EventLog]) -> None:
    db, _ = fused
    ann = _ann(db)
    run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": 7}}, actor="bob")
    middle = db.audit.history("User", ann["id"])[0].at
    run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"name": "Anna"}})
    history = db.audit.history("User", ann["id"])
    assert [(e.operation, e.changes) for e in history] == [
        ("update", {"name": ["Ann", "Anna"]}),
        ("update", {"age": [0, 7]}),
        ("create", {"name": [None, "Ann"], "email": [None, "ann@example.com"], "age": [None, 0]}),
    ]
    assert db.audit.history("User", ann["id"], actor="bob")[0].changes == {"age": [0, 7]}
    assert db.audit.as_of("User", ann["id"], at=middle) == {"id": ann["id"], "name": "Ann", "email": "ann@example.com",
                                                             "age": 7}  # fmt: skip


VALUES: list[dict[str, Any]] = [
    {"text": 'quote " back \\ newline \n tab \t nul-free \x01 é 中', "number": -(2**62), "ratio": 3.0, "flag": True,
     "token": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    {"text": "", "number": 0, "ratio": 1e20, "flag": False, "token": uuid.uuid4()},
    {"text": None, "number": None, "ratio": None, "flag": None, "token": None},
    {"text": "x", "number": 5, "ratio": -0.1, "flag": True, "token": uuid.uuid4()},
    {"ratio": 1e15}, {"ratio": 1e-7}, {"ratio": 2.5e-310},
    {"moment": dt.datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=dt.UTC), "day": dt.date(999, 1, 2),
     "colour": Colour.RED, "size": Size.LARGE},
    {"moment": dt.datetime(2026, 1, 2, 3, 4, 5), "day": dt.date(2026, 12, 31), "colour": Colour.BLUE,
     "size": Size.SMALL},
    {"moment": dt.datetime(1999, 1, 1, 2, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))), "day": None,
     "colour": None, "size": None},
    {"moment": dt.datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC)},
]  # fmt: skip


def test_values_of_every_fused_kind_read_back_as_the_trail_stores_them_in_python(
    fused: tuple[DataFlow, EventLog],
) -> None:
    db, log = fused
    record = run_node(db, "KindsCreateNode", {})
    previous = db.express_sync.read("Kinds", record["id"])
    for fields in VALUES:
        mark = len(log.events)
        run_node(db, "KindsUpdateNode", {"id": record["id"], "fields": fields})
        # The head is read once (on MariaDB the model's procedure made once too), then one statement each.
        assert len(log.since(mark)[0]) <= (3 if db.dialect.name == "mysql" else 2)
        stored = db.express_sync.read("Kinds", record["id"])
        entry = db.audit.history("Kinds", record["id"], limit=1)[0]
        # What the usual capture records: the read-back images' changed fields, through the trail's JSON.
        expected = {n: [plain(previous[n]), plain(stored[n])] for n in fields if previous[n] != stored[n]}
        assert entry.changes == expected
        for name, (before, after) in entry.changes.items():
            assert (type(before), type(after)) == (type(plain(previous[name])), type(plain(stored[name]))), name
        previous = stored
    assert db.audit.as_of("Kinds", record["id"], at=entry.at) == plain(previous)
    assert db.audit.verify().ok


def test_an_update_that_matches_no_row_writes_no_entry_and_leaves_the_chain(fused: tuple[DataFlow, EventLog]) -> None:
    db, _ = fused
    ann = _ann(db)
    run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": 1}})
    heads, rows = _head(db), audit_rows(db)
    assert run_node(db, "UserUpdateNode", {"id": 999, "fields": {"age": 2}, "raise_on_not_found": False}) is None
    with pytest.raises(WorkflowError) as raised:
        run_node(db, "UserUpdateNode", {"id": 999, "fields": {"age": 2}})
    assert isinstance(raised.value.__cause__, NotFoundError) and raised.value.__cause__.field == "id"
    assert (_head(db), audit_rows(db)) == (heads, rows)


def test_an_update_of_unaudited_fields_only_writes_no_entry(fused: tuple[DataFlow, EventLog]) -> None:
    db, _ = fused
    note = run_node(db, "NoteCreateNode", {"title": "t"})
    run_node(db, "NoteUpdateNode", {"id": note["id"], "fields": {"title": "u"}})
    heads, rows = _head(db), audit_rows(db)
    run_node(db, "NoteUpdateNode", {"id": note["id"], "fields": {"views": 9}})
    run_node(db, "NoteUpdateNode", {"id": note["id"], "fields": {"title": "u"}})  # audited, but unchanged
    assert db.express_sync.read("Note", note["id"])["views"] == 9
    assert (_head(db), audit_rows(db)) == (heads, rows)


def test_a_failing_update_leaves_neither_its_write_nor_an_entry(fused: tuple[DataFlow, EventLog]) -> None:
    db, _ = fused
    ann = _ann(db)
    bob = run_node(db, "UserCreateNode", {"name": "Bob", "email": "bob@example.com"})
    run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": 1}})
    heads, rows = _head(db), audit_rows(db)
    with pytest.raises(WorkflowError) as raised:
        run_node(db, "UserUpdateNode", {"id": bob["id"], "fields": {"email": "ann@example.com", "age": 50}})
    error = raised.value.__cause__
    assert isinstance(error, UniqueViolationError)
    assert error.model == "User" and "email" in (error.field, *error.fields), str(error)  # as usual
    assert db.express_sync.read("User", bob["id"]) == bob
    assert (_head(db), audit_rows(db)) == (heads, rows)


def test_a_run_that_fails_after_a_fused_update_rolls_back_the_update_and_its_entry(
    fused: tuple[DataFlow, EventLog],
) -> None:
    db, _ = fused
    ann = _ann(db)
    run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": 1}})
    heads, rows = _head(db), audit_rows(db)
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["UserUpdateNode"], "update", {"id": ann["id"], "fields": {"age": 60}})
    workflow.add_node(db.nodes["UserCreateNode"], "again", {"name": "Ann", "email": "ann@example.com"})
    workflow.add_connection("update", "name", "again", "name")
    with pytest.raises(WorkflowError):
        LocalRuntime().execute(workflow.build(), transaction=True)
    assert db.express_sync.read("User", ann["id"])["age"] == 1
    assert (_head(db), audit_rows(db)) == (heads, rows)
    assert db.audit.verify().ok


def test_an_edited_fused_entry_is_named_by_verify(fused: tuple[DataFlow, EventLog]) -> None:
    db, _ = fused
    ann = _ann(db)
    for age in (1, 2):
        run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": age}})
    target = audit_rows(db)[1]
    db.sql("UPDATE dataflow_audit SET changes = :c WHERE id = :id", {"c": '{"age":[0,9]}', "id": target["id"]})
    result = db.audit.verify()
    assert not result.ok and result.bad is not None
    assert result.bad.entry_id == target["id"] and "edited" in result.bad.problem


def test_a_vanished_head_fails_the_update_instead_of_writing_an_unchained_entry(
    fused: tuple[DataFlow, EventLog],
) -> None:
    db, _ = fused
    ann = _ann(db)
    run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": 1}})  # the head is known now
    rows = audit_rows(db)
    db.sql("DELETE FROM dataflow_audit_head")
    with pytest.raises(WorkflowError):
        run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": 2}})
    assert db.express_sync.read("User", ann["id"])["age"] == 1
    assert audit_rows(db) == rows


def test_an_update_of_a_personal_field_is_sealed_by_the_usual_capture(fused: tuple[DataFlow, EventLog]) -> None:
    db, log = fused
    Audit.of(db).configure(master_key=base64.b64encode(secrets.token_bytes(32)).decode())

    @db.model
    class Patient:
        name: Annotated[str, Personal()]
        ward: int = 0
        __dataflow__ = {"audit": True, "subject": "id"}

    patient = run_node(db, "PatientCreateNode", {"name": "Ann Secret"})
    run_node(db, "PatientUpdateNode", {"id": patient["id"], "fields": {"ward": 1}})  # no personal field: fused
    mark = len(log.events)
    run_node(db, "PatientUpdateNode", {"id": patient["id"], "fields": {"name": "Ann Hidden"}})
    statements, transactions = log.since(mark)
    assert len(statements) > 1 and transactions == 1
    stored = json.dumps(audit_rows(db))
    assert "Ann Secret" not in stored and "Ann Hidden" not in stored
    assert db.audit.history("Patient", patient["id"])[0].changes == {"name": ["Ann Secret", "Ann Hidden"]}
    assert db.audit.history("Patient", patient["id"])[1].changes == {"ward": [0, 1]}
    assert db.audit.verify().ok


def test_concurrent_updating_processes_never_fork_a_chain(fused: tuple[DataFlow, EventLog]) -> None:
    db, _ = fused
    ann = _ann(db)
    run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": 1}})
    url = db.url.render(hide_password=False)
    writers = [
        subprocess.Popen(
            [sys.executable, str(HERE / "writer.py"), url, "update", str(ann["id"]), str(100 * i)], cwd=HERE
        )
        for i in range(1, 5)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    updates = sorted((r for r in audit_rows(db) if r["operation"] == "update"), key=lambda r: r["seq"])
    assert [r["seq"] for r in updates] == list(range(2, 2 + 1 + 4 * 15))
    ages = [json.loads(r["changes"])["age"] for r in updates]
    for previous, current in itertools.pairwise(ages):
        assert current[0] == previous[1]
    assert ages[-1][1] == db.express_sync.read("User", ann["id"])["age"]
    result = db.audit.verify()
    assert result.ok and result.entries == 2 + 4 * 15, str(result)


def test_a_timestamped_model_records_updated_at_in_the_one_statement(fused: tuple[DataFlow, EventLog]) -> None:
    db, log = fused

    @db.model
    class Stamped:
        title: str
        __dataflow__ = {"audit": True, "timestamps": True}

    record = run_node(db, "StampedCreateNode", {"title": "a"})
    run_node(db, "StampedUpdateNode", {"id": record["id"], "fields": {"title": "b"}})
    mark = len(log.events)
    updated = run_node(db, "StampedUpdateNode", {"id": record["id"], "fields": {"title": "c"}})
    assert len(log.since(mark)[0]) == 1
    before = db.audit.history("Stamped", record["id"])[1]
    entry = db.audit.history("Stamped", record["id"])[0]
    assert entry.changes == {
        "title": ["b", "c"],
        "updated_at": [before.changes["updated_at"][1], plain(updated["updated_at"])],
    }
    assert db.audit.verify().ok


def test_on_sqlite_every_kind_is_fused_and_reads_back_as_the_usual_capture_records_it(
    fused: tuple[DataFlow, EventLog],
) -> None:
    db, log = fused
    if db.dialect.name != "sqlite":
        pytest.skip("PostgreSQL builds the entry in SQL and leaves these kinds to the usual capture (ADR 0025)")

    @db.model
    class Odd:
        clock: dt.time | None = None
        amount: decimal.Decimal | None = None
        blob: bytes | None = None
        doc: dict[str, Any] | None = None
        __dataflow__ = {"audit": True}

    record = run_node(db, "OddCreateNode", {})
    previous = db.express_sync.read("Odd", record["id"])
    for fields in ({"clock": dt.time(1, 2, 3, 4), "amount": decimal.Decimal("12.50"), "blob": b"\x00\xff",
                    "doc": {"b": [1, 2.5, None], "a": "é"}},
                   {"clock": None, "amount": decimal.Decimal("-0.001"), "blob": b"", "doc": {}}):  # fmt: skip
        mark = len(log.events)
        run_node(db, "OddUpdateNode", {"id": record["id"], "fields": fields})
        statements, transactions = log.since(mark)
        assert (len(statements), transactions) == (1, 0)
        stored = db.express_sync.read("Odd", record["id"])
        expected = {n: [plain(previous[n]), plain(stored[n])] for n in fields if previous[n] != stored[n]}
        assert db.audit.history("Odd", record["id"], limit=1)[0].changes == expected
        previous = stored
    assert db.audit.verify().ok
