"""Single-record nodes where the server has no RETURNING (MySQL 8, and UPDATE on MariaDB)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from mysql_helpers import open_db, statement_log, without_returning

from dataflow import DataFlow
from dataflow.testing.helpers import define_people, run_node


@pytest.fixture
def db(dataflow_database_url: str) -> Iterator[DataFlow]:
    instance = open_db(dataflow_database_url)
    define_people(instance)
    yield instance
    instance.close()


def test_create_without_returning_reads_the_record_back_by_its_new_key(db: DataFlow) -> None:
    without_returning(db)
    first = run_node(db, "UserCreateNode", {"name": "a", "email": "a@x"})
    second = run_node(db, "UserCreateNode", {"name": "b", "email": "b@x", "age": 3})
    assert (first["id"], first["name"]) == (1, "a")
    assert second == {"id": 2, "name": "b", "email": "b@x", "age": 3, "active": True, "score": None, "team_id": None}


def test_create_with_an_explicit_key_reads_back_that_key(db: DataFlow) -> None:
    without_returning(db)
    assert run_node(db, "UserCreateNode", {"id": 41, "name": "a", "email": "a@x"})["id"] == 41
    assert run_node(db, "UserCreateNode", {"name": "b", "email": "b@x"})["id"] == 42


def test_update_by_id_returns_the_record_even_when_nothing_changes(db: DataFlow) -> None:
    created = run_node(db, "UserCreateNode", {"name": "a", "email": "a@x"})
    same = run_node(db, "UserUpdateNode", {"id": created["id"], "fields": {"name": "a"}})
    assert same == created
    changed = run_node(db, "UserUpdateNode", {"id": created["id"], "fields": {"age": 5}})
    assert changed["age"] == 5
    assert run_node(db, "UserUpdateNode", {"id": 999, "fields": {"age": 1}, "raise_on_not_found": False}) is None


def test_update_by_filter_counts_matched_rows_not_changed_ones(db: DataFlow) -> None:
    run_node(db, "UserBulkCreateNode", {"data": [{"name": "a", "email": f"{i}@x", "age": i % 2} for i in range(6)]})
    assert run_node(db, "UserUpdateNode", {"filter": {}, "fields": {"age": 1}, "confirmed": True}) == {"updated": 6}


def test_upsert_node_creates_then_updates(db: DataFlow) -> None:
    without_returning(db)
    created = run_node(db, "UserUpsertNode", {"name": "a", "email": "a@x", "conflict_on": ["email"]})
    assert created["created"] is True and created["record"]["id"] == 1
    updated = run_node(db, "UserUpsertNode", {"name": "b", "email": "a@x", "conflict_on": ["email"]})
    assert updated == {"record": {**created["record"], "name": "b"}, "created": False}


def test_timestamps_are_kept_in_utc(dataflow_database_url: str) -> None:
    db = open_db(dataflow_database_url)

    @db.model
    class Event:
        title: str
        __dataflow__ = {"timestamps": True}

    before = dt.datetime.now(dt.UTC)
    record = run_node(db, "EventCreateNode", {"title": "x"})
    assert record["created_at"].tzinfo == dt.UTC
    assert abs(record["created_at"] - before) < dt.timedelta(seconds=5)
    db.close()


def test_reads_are_one_statement_per_node(db: DataFlow, dataflow_database_url: str) -> None:
    with statement_log() as log:
        logged = open_db(dataflow_database_url)
        define_people(logged)
        logged.create_tables()
        created = run_node(logged, "UserCreateNode", {"name": "a", "email": "a@x"})
        start = len(log.statements)
        run_node(logged, "UserReadNode", {"id": created["id"]})
        assert len(log.statements) - start == 1
        logged.close()


def test_a_model_with_only_a_key_can_be_created(db: DataFlow) -> None:
    @db.model
    class Counter:
        pass

    assert run_node(db, "CounterCreateNode", {})["id"] == 1
