"""More sinks a personal value must never reach: filter errors, stored values a field cannot hold, slow-query plans."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import Annotated, Any

import pytest
from audit_helpers import open_db

from dataflow import AsyncLocalRuntime, DataFlow, MaxLength, Personal, WorkflowBuilder
from dataflow.errors import FilterError, StoredValueError

SECRET = "ann.secret@example.com"
BORN = dt.date(1983, 4, 5)


def define_people(db: DataFlow) -> None:
    @db.model
    class Person:
        email: Annotated[str, MaxLength(100), Personal()]
        born: Annotated[dt.date | None, Personal()] = None
        code: Annotated[int, Personal()] = 0


def _text(error: BaseException) -> str:
    return f"{error} {error!r} {json.dumps(vars(error), default=str)}"


@pytest.mark.parametrize(
    "condition",
    [
        {"code": {"$eq": SECRET}},
        {"code": {"$in": [1, SECRET]}},
        {"born": {"$gt": SECRET}},
        {"born": {"$nin": [SECRET]}},
        {"$or": [{"email": "x"}, {"code": {"$gte": SECRET}}]},
    ],
)
def test_a_filter_error_never_shows_a_personal_value(sqlite_url: str, condition: dict[str, Any]) -> None:
    db = open_db(sqlite_url)
    try:
        define_people(db)
        with pytest.raises(FilterError) as refused:
            db.express_sync.list("Person", filter=condition)
        assert refused.value.field in ("code", "born") and SECRET not in _text(refused.value)
    finally:
        db.close()


def test_a_stored_personal_value_the_field_cannot_hold_is_not_repeated(sqlite_url: str) -> None:
    db = open_db(sqlite_url)
    try:
        define_people(db)
        person = db.express_sync.create("Person", {"email": "a@example.com", "born": BORN})
        db.sql("UPDATE person SET born = :text", {"text": SECRET})  # SQLite keeps text in a date column
        with pytest.raises(StoredValueError) as refused:
            db.express_sync.read("Person", person["id"])
        assert (refused.value.model, refused.value.field, refused.value.value) == ("Person", "born", None)
        assert "personal data, not shown" in str(refused.value) and SECRET not in _text(refused.value)
    finally:
        db.close()


def test_a_stored_value_of_an_ordinary_field_is_still_named(sqlite_url: str) -> None:
    db = open_db(sqlite_url)
    try:

        @db.model
        class Visit:
            day: dt.date

        visit = db.express_sync.create("Visit", {"day": BORN})
        db.sql("UPDATE visit SET day = 'not a day'")
        with pytest.raises(StoredValueError, match="the database holds 'not a day'") as refused:
            db.express_sync.read("Visit", visit["id"])
        assert refused.value.value == "not a day"
    finally:
        db.close()


def test_slow_query_plans_never_show_a_personal_value(any_database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    from dataflow_monitor import Monitor  # noqa: PLC0415 - the monitor is this test's subject, optional for the package

    caplog.set_level(logging.DEBUG, logger="dataflow")

    async def body(db: DataFlow) -> None:
        Monitor.of(db).configure(slow_query_seconds=0.0, explain=True)
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["PersonCreateNode"], "create", {"email": SECRET, "born": BORN, "code": 4915550123})
        workflow.add_node(db.nodes["PersonListNode"], "find", {"filter": {"email": SECRET, "code": 4915550123}})
        await AsyncLocalRuntime().execute_async(workflow.build())
        await Monitor.of(db).settle()

    db = open_db(any_database_url)
    try:
        define_people(db)
        asyncio.run(body(db))
        entries = list(Monitor.of(db).slow.entries)
        assert any(e.plan for e in entries), [e.plan_error for e in entries]
        seen = repr([e.as_dict() for e in entries]) + "\n".join(r.getMessage() for r in caplog.records)
        for secret in (SECRET, "4915550123", BORN.isoformat()):
            assert secret not in seen, f"a personal value reached the slow-query log: {secret}"
    finally:
        db.close()
