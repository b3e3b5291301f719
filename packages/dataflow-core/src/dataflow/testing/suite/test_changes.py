"""Change capture: every write node of a captured model reports its rows' before and after images, set-wise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ...batches import Program, Step
from ...changes import ChangeSet, CreatedRows
from ...database import DataFlow
from ...errors import WorkflowError
from ...events import StatementExecuted
from ...plugins import hookimpl, plugin_registered
from ...schema import ModelSchema
from ...session import Session
from ...workflow import LocalRuntime, WorkflowBuilder
from ..helpers import define_people, open_db, people, records, run_node


class RecordingListener:
    """Captures User only, and keeps every change set; ``fail`` makes it raise after the write."""

    def __init__(self) -> None:
        self.changes: list[ChangeSet] = []
        self.fail = False
        self.later: str | None = None
        """A statement the listener leaves for the COMMIT (``Session.run_program_later``)."""

    def captures(self, schema: ModelSchema) -> bool:
        return schema.name == "User"

    async def changed(self, session: Session, changes: ChangeSet) -> None:
        assert session.in_transaction
        self.changes.append(changes)
        if self.fail:
            raise RuntimeError("listener refused")
        if self.later is not None:
            await session.run_program_later(_one_statement(self.later))


def _one_statement(sql: str) -> Program[None]:
    yield Step(sql)


class StatementLog:
    def __init__(self) -> None:
        self.statements: list[StatementExecuted] = []

    def handle(self, event: Any) -> None:
        if isinstance(event, StatementExecuted):
            self.statements.append(event)


class CapturePlugin:
    def __init__(self) -> None:
        self.listener = RecordingListener()
        self.log = StatementLog()

    @hookimpl
    def dataflow_register_change_listeners(self, register: Any) -> None:
        register(self.listener)

    @hookimpl
    def dataflow_register_monitors(self, register: Any) -> None:
        register(self.log)


@pytest.fixture
def captured(dataflow_database_url: str) -> Iterator[tuple[DataFlow, CapturePlugin]]:
    """Team and User on the dialect's test database, User captured by a recording listener."""
    plugin = CapturePlugin()
    with plugin_registered(plugin, "recording-listener"):
        instance = open_db(dataflow_database_url)
        define_people(instance)
        try:
            yield instance, plugin
        finally:
            instance.close()


def _only(plugin: CapturePlugin) -> ChangeSet:
    assert len(plugin.listener.changes) == 1, plugin.listener.changes
    return plugin.listener.changes.pop()


def test_create_update_delete_report_before_and_after(captured: tuple[DataFlow, CapturePlugin]) -> None:
    db, plugin = captured
    created = run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com", "age": 30})
    change = _only(plugin)
    assert change.operation == "create" and change.node_id == "node"
    (row,) = change.rows
    assert row.kind == "create" and row.key == created["id"] and row.before is None
    assert row.after is not None and row.after["email"] == "ann@example.com"
    run_node(db, "UserUpdateNode", {"id": created["id"], "fields": {"age": 31}})
    (row,) = _only(plugin).rows
    assert row.kind == "update" and row.before is not None and row.after is not None
    assert (row.before["age"], row.after["age"]) == (30, 31)
    run_node(db, "UserDeleteNode", {"id": created["id"]})
    (row,) = _only(plugin).rows
    assert row.kind == "delete" and row.before is not None and row.before["age"] == 31 and row.after is None


def test_updates_and_deletes_by_filter_report_every_matched_row(captured: tuple[DataFlow, CapturePlugin]) -> None:
    db, plugin = captured
    run_node(db, "UserBulkCreateNode", {"data": people(10)})
    plugin.listener.changes.clear()
    run_node(db, "UserUpdateNode", {"filter": {"age": {"$lt": 5}}, "fields": {"active": False}})
    rows = _only(plugin).rows
    assert sorted(r.before["age"] for r in rows if r.before) == [0, 1, 2, 3, 4]
    assert all(r.after is not None and r.after["active"] is False for r in rows)
    run_node(db, "UserBulkDeleteNode", {"filter": {"active": False}})
    rows = _only(plugin).rows
    assert len(rows) == 5 and {r.kind for r in rows} == {"delete"}
    assert len(records(db, "User")) == 5


def test_bulk_create_reports_every_row_set_wise_and_keeps_its_output(captured: tuple[DataFlow, CapturePlugin]) -> None:
    db, plugin = captured
    output = run_node(db, "UserBulkCreateNode", {"data": people(2500), "batch_size": 1000})
    assert output == {"inserted": 2500}
    rows = _only(plugin).rows
    assert len(rows) == 2500 and {r.kind for r in rows} == {"create"}
    assert sorted(r.after["email"] for r in rows if r.after) == sorted(p["email"] for p in people(2500))
    reads = [s for s in plugin.log.statements if s.sql.startswith("SELECT") and s.model == "User"]
    assert len(reads) < 2500 / 100, f"{len(reads)} reads for 2500 rows: not set-wise"


def test_bulk_update_and_upsert_report_only_rows_that_changed(captured: tuple[DataFlow, CapturePlugin]) -> None:
    db, plugin = captured
    ids = run_node(db, "UserBulkCreateNode", {"data": people(4), "return_ids": True})["ids"]
    plugin.listener.changes.clear()
    run_node(db, "UserBulkUpdateNode", {"data": [{"id": ids[0], "age": 70}, {"id": ids[1], "age": 71}]})
    rows = _only(plugin).rows
    assert sorted((r.key, r.after["age"]) for r in rows if r.after) == [(ids[0], 70), (ids[1], 71)]
    upsert = [{"name": "user0", "email": "user0@example.com", "age": 99}, {"name": "new", "email": "n@example.com"}]
    assert run_node(db, "UserBulkUpsertNode", {"data": upsert, "conflict_on": ["email"]}) == {
        "inserted": 1,
        "updated": 1,
    }
    kinds = sorted((r.kind, (r.after or {}).get("email")) for r in _only(plugin).rows)
    assert kinds == [("create", "n@example.com"), ("update", "user0@example.com")]
    result = run_node(db, "UserUpsertNode", {"name": "x", "email": "n@example.com", "age": 5, "conflict_on": "email"})
    assert result["created"] is False
    (row,) = _only(plugin).rows
    assert row.kind == "update" and row.before is not None and row.after is not None
    assert (row.before["age"], row.after["age"]) == (0, 5)


def test_a_failing_listener_rolls_the_write_back(captured: tuple[DataFlow, CapturePlugin]) -> None:
    db, plugin = captured
    plugin.listener.fail = True
    with pytest.raises(WorkflowError, match="listener refused"):
        run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    plugin.listener.fail = False
    assert records(db, "User") == []


def test_the_direct_api_is_captured_and_uncaptured_models_are_not(captured: tuple[DataFlow, CapturePlugin]) -> None:
    db, plugin = captured
    db.express_sync.create("Team", {"name": "core"})
    assert plugin.listener.changes == []
    assert getattr(db.nodes["TeamCreateNode"], "captured_run") is None  # noqa: B009 - a ModelNode's attribute
    db.express_sync.create("User", {"name": "Bo", "email": "bo@example.com"})
    change = _only(plugin)
    assert change.node_id == "express.create" and change.rows[0].after is not None


def test_a_rolled_back_run_keeps_no_captured_rows(captured: tuple[DataFlow, CapturePlugin]) -> None:
    db, plugin = captured
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["UserCreateNode"], "create", {"name": "Ann", "email": "ann@example.com"})
    workflow.add_node(db.nodes["UserReadNode"], "missing", {"id": 10**9})
    workflow.add_connection("create", "name", "missing", "raise_on_not_found")
    with pytest.raises(WorkflowError):
        LocalRuntime().execute(workflow.build(), transaction=True)
    assert len(plugin.listener.changes) == 1  # reported inside the transaction, which then rolled back
    assert records(db, "User") == []


def test_a_bulk_create_hands_over_the_rows_it_wrote_as_they_read_back(captured: tuple[DataFlow, CapturePlugin]) -> None:
    db, plugin = captured
    run_node(db, "UserBulkCreateNode", {"data": [{**p, "score": 0.25} for p in people(300)]})
    rows = _only(plugin).rows
    assert isinstance(rows, CreatedRows)  # every field of User is of a kind stored as given: no read back
    assert sorted((r.key, dict(r.after or {})) for r in rows) == sorted((u["id"], u) for u in records(db, "User"))


def test_a_bulk_create_of_many_slices_hands_over_every_column_in_row_order(
    captured: tuple[DataFlow, CapturePlugin],
) -> None:
    db, plugin = captured
    data = [{**p, "score": i / 4, "active": i % 3 == 0} for i, p in enumerate(people(12_000))]
    run_node(db, "UserBulkCreateNode", {"data": data})
    rows = _only(plugin).rows
    assert isinstance(rows, CreatedRows)
    stored = sorted(records(db, "User"), key=lambda user: user["id"])
    assert list(rows.keys) == [user["id"] for user in stored]
    for name in ("id", "name", "email", "age", "active", "score", "team_id"):
        assert list(rows.columns[name]) == [user[name] for user in stored], name


def test_a_statement_left_for_the_commit_commits_with_the_write(captured: tuple[DataFlow, CapturePlugin]) -> None:
    db, plugin = captured
    team = db.dialect.quote(db.schemas["Team"].table)
    plugin.listener.later = f"INSERT INTO {team} ({db.dialect.quote('name')}) VALUES ('later')"
    run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    assert [t["name"] for t in records(db, "Team")] == ["later"]
    assert [u["name"] for u in records(db, "User")] == ["Ann"]


def test_a_failing_statement_left_for_the_commit_rolls_the_write_back(captured: tuple[DataFlow, CapturePlugin]) -> None:
    db, plugin = captured
    plugin.listener.later = f"INSERT INTO {db.dialect.quote('no_such_table')} (a) VALUES (1)"
    with pytest.raises(WorkflowError):
        run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    plugin.listener.later = None
    assert records(db, "User") == []
    run_node(db, "UserUpdateNode", {"id": run_node(db, "UserCreateNode", {"name": "Bo", "email": "b@x.io"})["id"],
                                    "fields": {"age": 3}})  # fmt: skip
    assert [u["age"] for u in records(db, "User")] == [3]  # the session is usable again
