"""Fused updates: a listener with ``fuse_update`` records a one-record Update inside its one statement (ADR 0025)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ...changes import FUSED_ROW, ChangeSet, FusedUpdate
from ...database import DataFlow
from ...errors import NotFoundError, WorkflowError
from ...events import StatementExecuted, TransactionFinished
from ...plugins import hookimpl, plugin_registered
from ...schema import ModelSchema
from ...session import Session
from ..helpers import define_people, open_db, require, run_node


class FusingListener:
    """Captures User; records the age's before and after into ``fused_log`` from inside the update's statement.

    ``answer`` None makes it decline (the usual capture runs), ``""`` record nothing.
    """

    def __init__(self) -> None:
        self.changes: list[ChangeSet] = []
        self.answer: str | None = "log"
        self.events: list[Any] = []

    def captures(self, schema: ModelSchema) -> bool:
        return schema.name == "User"

    async def changed(self, session: Session, changes: ChangeSet) -> None:
        self.changes.append(changes)

    async def fuse_update(self, session: Session, update: FusedUpdate) -> str | None:
        if self.answer != "log" or "age" not in update.assigned:
            return self.answer
        q = session.dialect.quote
        key = update.params.add(str(update.key))
        return (
            f"{q('log')} AS (INSERT INTO {q('fused_log')} ({q('record')}, {q('age_before')}, {q('age_after')}) "
            f"SELECT {key}, {update.before('age')}, {update.after('age')} FROM {q(FUSED_ROW)})"
        )

    def handle(self, event: Any) -> None:
        if isinstance(event, (StatementExecuted, TransactionFinished)):
            self.events.append(event)


class FusingPlugin:
    def __init__(self) -> None:
        self.listener = FusingListener()

    @hookimpl
    def dataflow_register_change_listeners(self, register: Any) -> None:
        register(self.listener)

    @hookimpl
    def dataflow_register_monitors(self, register: Any) -> None:
        register(self.listener)


@pytest.fixture
def fusing(dataflow_database_url: str) -> Iterator[tuple[DataFlow, FusingListener]]:
    """Team and User, User captured by a fusing listener; only on dialects with writable CTEs."""
    plugin = FusingPlugin()
    with plugin_registered(plugin, "fusing-listener"):
        instance = open_db(dataflow_database_url)
        define_people(instance)
    try:
        require(instance, "writable_cte")
        instance.sql("CREATE TABLE fused_log (record TEXT, age_before BIGINT, age_after BIGINT)")
        yield instance, plugin.listener
    finally:
        instance.sql("DROP TABLE IF EXISTS fused_log")
        instance.close()


def _log(db: DataFlow) -> list[tuple[Any, ...]]:
    return [(r["record"], r["age_before"], r["age_after"]) for r in db.sql("SELECT * FROM fused_log")]


def test_a_fusing_listener_records_an_update_by_id_in_its_one_statement(
    fusing: tuple[DataFlow, FusingListener],
) -> None:
    db, listener = fusing
    ann = run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com", "age": 30})
    listener.changes.clear()
    listener.events.clear()
    record = run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": 31}})
    events = list(listener.events)
    assert [type(e) for e in events] == [StatementExecuted]  # one statement, no transaction
    assert record == {**ann, "age": 31}
    assert _log(db) == [(str(ann["id"]), 30, 31)]
    assert listener.changes == []


def test_a_declining_listener_gets_the_usual_change_set(fusing: tuple[DataFlow, FusingListener]) -> None:
    db, listener = fusing
    ann = run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com", "age": 30})
    listener.changes.clear()
    listener.answer = None
    run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": 31}})
    assert _log(db) == []
    (change,) = listener.changes
    assert [(r.before["age"], r.after["age"]) for r in change.rows if r.before and r.after] == [(30, 31)]


def test_a_listener_that_records_nothing_leaves_a_plain_update(fusing: tuple[DataFlow, FusingListener]) -> None:
    db, listener = fusing
    ann = run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    listener.changes.clear()
    listener.answer = ""
    assert run_node(db, "UserUpdateNode", {"id": ann["id"], "fields": {"age": 5}})["age"] == 5
    assert _log(db) == [] and listener.changes == []


def test_a_fused_update_of_no_row_records_nothing_and_raises_not_found(
    fusing: tuple[DataFlow, FusingListener],
) -> None:
    db, _ = fusing
    assert run_node(db, "UserUpdateNode", {"id": 404, "fields": {"age": 5}, "raise_on_not_found": False}) is None
    with pytest.raises(WorkflowError) as raised:
        run_node(db, "UserUpdateNode", {"id": 404, "fields": {"age": 5}})
    assert isinstance(raised.value.__cause__, NotFoundError) and raised.value.__cause__.field == "id"
    assert _log(db) == []
