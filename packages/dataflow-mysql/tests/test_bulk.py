"""The MySQL bulk strategies: same rows whichever runs, exact counts, nothing written on failure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import attrs
import pytest
from mysql_helpers import admin_connection, database_url, open_db, statement_log, without_returning

from dataflow import DataFlow, ForeignKeyViolationError, MaxLength, UniqueViolationError, ValidationError
from dataflow.testing.helpers import count, define_people, failure, people, records, run_node

CREATE_STRATEGIES = ["mysql_values", "values", "executemany", "load_data"]


@pytest.fixture
def db(database_name: str) -> Iterator[DataFlow]:
    """The people models on a URL that allows LOAD DATA LOCAL INFILE."""
    instance = open_db(database_url(database_name, local_infile="true"))
    define_people(instance)
    yield instance
    instance.close()


def snapshot(db: DataFlow) -> list[tuple[Any, ...]]:
    return [(r["email"], r["name"], r["age"], r["active"], r["score"]) for r in records(db, "User", order_by=["email"])]


def awkward_people(n: int) -> list[dict[str, Any]]:
    rows = people(n)
    for i, row in enumerate(rows):
        row["name"] = ["tab\there", "new\nline", "back\\slash", "quote'\"", "NULL", "\\N", "ü😀", ""][i % 8]
        row["score"] = None if i % 3 else i / 7
        row["active"] = i % 2 == 0
    return rows


@pytest.mark.parametrize("strategy", CREATE_STRATEGIES)
def test_each_create_strategy_writes_the_same_rows(db: DataFlow, strategy: str) -> None:
    data = awkward_people(1000)
    assert run_node(db, "UserBulkCreateNode", {"data": data, "strategy": strategy}) == {"inserted": 1000}
    expected = sorted((r["email"], r["name"], r["age"], r["active"], r["score"]) for r in data)
    assert snapshot(db) == expected


def test_load_data_refuses_when_the_url_does_not_allow_it(database_name: str) -> None:
    db = open_db(database_url(database_name))
    define_people(db)
    error = failure(db, "UserBulkCreateNode", {"data": people(3), "strategy": "load_data"})
    assert isinstance(error, ValidationError) and error.field == "strategy"
    db.close()


@pytest.mark.parametrize("strategy", ["mysql_values", "load_data"])
def test_a_duplicate_in_the_batch_writes_nothing(db: DataFlow, strategy: str) -> None:
    run_node(db, "UserCreateNode", {"name": "Ann", "email": "user500@example.com"})
    error = failure(db, "UserBulkCreateNode", {"data": people(1000), "strategy": strategy})
    assert isinstance(error, UniqueViolationError) and error.fields == ("email",)
    assert count(db, "User") == 1


@pytest.mark.parametrize("strategy", ["mysql_values", "load_data"])
def test_a_missing_foreign_key_in_the_batch_writes_nothing(db: DataFlow, strategy: str) -> None:
    data = people(100)
    data[60]["team_id"] = 12345
    for row in data:
        row.setdefault("team_id", None)
    error = failure(db, "UserBulkCreateNode", {"data": data, "strategy": strategy})
    assert isinstance(error, ForeignKeyViolationError)
    assert count(db, "User") == 0


def test_rows_beyond_one_packet_are_split_into_statements(db: DataFlow) -> None:
    db.create_tables()
    dialect: Any = db.dialect
    dialect.server = attrs.evolve(dialect.server, max_allowed_packet=64 * 1024 + 1024)
    data = [{"name": "x" * 100, "email": f"{i}@x", "age": 1} for i in range(3000)]  # about 400 KB of SQL
    assert run_node(db, "UserBulkCreateNode", {"data": data, "batch_size": 100_000}) == {"inserted": 3000}
    assert count(db, "User") == 3000


def ids_in_order(db: DataFlow, n: int, **params: Any) -> None:
    result = run_node(db, "UserBulkCreateNode", {"data": people(n), "return_ids": True, "batch_size": 64, **params})
    assert result["inserted"] == n
    emails = {r["id"]: r["email"] for r in records(db, "User")}
    assert [emails[i] for i in result["ids"]] == [p["email"] for p in people(n)]


def test_ids_through_returning_when_auto_increment_is_not_consecutive(db: DataFlow) -> None:
    db.create_tables()
    assert "insert" in db.dialect.capabilities.returning
    dialect: Any = db.dialect
    dialect.server = attrs.evolve(dialect.server, autoinc_lock_mode=2)
    ids_in_order(db, 300)


def test_ids_through_last_insert_id_when_there_is_no_returning(db: DataFlow) -> None:
    without_returning(db)
    run_node(db, "UserCreateNode", {"name": "gap", "email": "gap@x"})
    run_node(db, "UserDeleteNode", {"id": 1})  # ids no longer start at 1
    ids_in_order(db, 300)


def test_consecutive_ids_are_preferred_to_returning(database_name: str) -> None:
    """RETURNING sends a row per id, read in Python; LAST_INSERT_ID() is one number per statement."""
    with statement_log() as log:
        db = open_db(database_url(database_name))
        define_people(db)
        try:
            db.create_tables()
            dialect: Any = db.dialect
            assert "insert" in dialect.capabilities.returning and dialect.server.consecutive_ids
            run_node(db, "UserCreateNode", {"name": "gap", "email": "gap@x"})  # ids no longer start at 1
            start = len(log.statements)
            ids_in_order(db, 300)
            inserts = [sql for sql in log.statements[start:] if sql.startswith("INSERT")]
            assert inserts and not any("RETURNING" in sql for sql in inserts)
        finally:
            db.close()


def test_ids_one_row_at_a_time_when_auto_increment_is_not_consecutive(db: DataFlow) -> None:
    without_returning(db)
    dialect: Any = db.dialect
    dialect.server = attrs.evolve(dialect.server, autoinc_lock_mode=2)
    ids_in_order(db, 50)


def test_ids_of_rows_that_bring_their_own_keys(db: DataFlow) -> None:
    data = [{"id": 100 + i, **p} for i, p in enumerate(people(5))]
    assert run_node(db, "UserBulkCreateNode", {"data": data, "return_ids": True})["ids"] == [100, 101, 102, 103, 104]


# -- upserts ---------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["mysql_upsert", "upsert"])
def test_upsert_counts_are_exact_for_new_changed_and_unchanged_rows(db: DataFlow, strategy: str) -> None:
    run_node(db, "UserBulkCreateNode", {"data": people(300)})
    data = people(100) + [{**p, "age": 1000} for p in people(100, start=100)] + people(150, start=300)
    result = run_node(db, "UserBulkUpsertNode", {"data": data, "conflict_on": ["email"], "strategy": strategy})
    assert result == {"inserted": 150, "updated": 200}
    assert count(db, "User") == 450 and count(db, "User", {"age": 1000}) == 100


def test_upsert_by_primary_key_in_small_batches(db: DataFlow) -> None:
    ids = run_node(db, "UserBulkCreateNode", {"data": people(10), "return_ids": True})["ids"]
    data = [{"id": key, "name": "same", "email": f"{key}@x"} for key in ids] + [
        {"id": 1000 + i, "name": "new", "email": f"new{i}@x"} for i in range(5)
    ]
    result = run_node(db, "UserBulkUpsertNode", {"data": data, "batch_size": 3})
    assert result == {"inserted": 5, "updated": 10}
    result = run_node(db, "UserBulkUpsertNode", {"data": data, "batch_size": 3})  # nothing changes now
    assert result == {"inserted": 0, "updated": 15}


def test_upsert_without_update_fields_skips_existing_rows(db: DataFlow) -> None:
    run_node(db, "UserBulkCreateNode", {"data": people(5)})
    data = [{**p, "name": "changed"} for p in people(8)]
    assert run_node(db, "UserBulkCreateNode", {"data": data, "conflict_on": ["email"]}) == {"inserted": 3, "skipped": 5}
    assert count(db, "User", {"name": "changed"}) == 3


def test_upsert_honours_update_fields(db: DataFlow) -> None:
    run_node(db, "UserBulkCreateNode", {"data": people(4)})
    data = [{**p, "name": "new", "age": 55} for p in people(4)]
    result = run_node(db, "UserBulkUpsertNode", {"data": data, "conflict_on": "email", "update_fields": ["age"]})
    assert result == {"inserted": 0, "updated": 4}
    assert [(r["name"], r["age"]) for r in records(db, "User")] == [(f"user{i}", 55) for i in range(4)]


def test_conflict_on_that_is_not_a_unique_key_is_a_validation_error(db: DataFlow) -> None:
    error = failure(db, "UserBulkUpsertNode", {"data": people(3), "conflict_on": ["name"]})
    assert isinstance(error, ValidationError) and error.field == "conflict_on" and "(email)" in str(error)
    assert count(db, "User") == 0


def test_a_row_colliding_on_another_unique_key_writes_nothing(db: DataFlow) -> None:
    run_node(db, "UserCreateNode", {"id": 1, "name": "Ann", "email": "ann@x"})
    data = [{"id": 2, "name": "new", "email": "new@x"}, {"id": 3, "name": "thief", "email": "ann@x"}]
    error = failure(db, "UserBulkUpsertNode", {"data": data, "conflict_on": ["id"]})
    assert isinstance(error, UniqueViolationError) and "other than (id)" in str(error)
    assert [(r["id"], r["name"], r["email"]) for r in records(db, "User")] == [(1, "Ann", "ann@x")]


def test_upsert_never_touches_a_soft_deleted_row_and_a_live_one_takes_its_value(
    dataflow_database_url: str, database_name: str
) -> None:
    db = open_db(dataflow_database_url)

    @db.model
    class Note:
        slug: Annotated[str, MaxLength(20)]
        body: str
        __dataflow__ = {"unique": [("slug",)], "soft_delete": True}

    run_node(db, "NoteBulkCreateNode", {"data": [{"slug": "a", "body": "1"}, {"slug": "b", "body": "2"}]})
    run_node(db, "NoteDeleteNode", {"filter": {"slug": "b"}})  # soft: the row stays, hidden
    data = [{"slug": "a", "body": "new"}, {"slug": "b", "body": "new"}]
    # Unique among live rows: the hidden b holds no slug, so b is a new row and the hidden one stays as it was.
    assert run_node(db, "NoteBulkUpsertNode", {"data": data, "conflict_on": ["slug"]}) == {"inserted": 1, "updated": 1}
    assert [(r["slug"], r["body"]) for r in run_node(db, "NoteListNode", {})["records"]] == [("a", "new"), ("b", "new")]
    assert run_node(db, "NoteBulkCreateNode", {"data": data, "conflict_on": ["slug"]}) == {"inserted": 0, "skipped": 2}
    admin = admin_connection(database_name)
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT body FROM note WHERE deleted_at IS NOT NULL")
            assert cursor.fetchall() == (("2",),)
    finally:
        admin.close()
    db.close()


def test_bulk_update_pipelines_and_a_failing_row_writes_nothing(db: DataFlow) -> None:
    ids = run_node(db, "UserBulkCreateNode", {"data": people(3000), "return_ids": True})["ids"]
    before = snapshot(db)
    data = [{"id": key, "age": 1000} for key in ids[:2000]] + [{"id": ids[2500], "email": "user1@example.com"}]
    error = failure(db, "UserBulkUpdateNode", {"data": data})
    assert isinstance(error, UniqueViolationError) and error.fields == ("email",)
    assert snapshot(db) == before
    assert run_node(db, "UserBulkUpdateNode", {"data": data[:2000] + [{"id": 10**9, "age": 1}]}) == {"updated": 2000}
    assert count(db, "User", {"age": 1000}) == 2000
