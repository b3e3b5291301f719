"""Migrations on the dialect's database: what introspection reads back, each kind of step, refusals, history.

Everything is checked through the dialect's own ``introspector()`` (the live
schema a plan is made from) and through nodes, never through SQL of one
database: a dialect passes when its introspector and schema editor agree
with each other and with the models. What only one database does (SQLite's
table rebuilds, MySQL's ``GET_LOCK``, PostgreSQL's transactional DDL) stays
in that dialect's own ``tests/test_migrate.py``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Annotated, Any

import pytest

from ...errors import ForeignKeyViolationError, MigrationError
from ...fields import MaxLength
from ..helpers import Color, Priority, count, define_kinds, define_people, failure, records, run_node
from ..migrations import (
    Reopen,
    foreign_keys,
    history,
    indexes,
    live,
    live_table,
    nullability,
    person,
    planned,
    seed_people,
)

# -- introspection round trips -----------------------------------------------------------


def test_a_table_of_every_kind_reads_back_as_its_model(reopen: Reopen) -> None:
    db = reopen(env="production")
    define_kinds(db)
    assert planned(db) == ["create table kinds (Kinds)"]
    assert db.migrate() is not None
    kinds = live_table(db, "kinds")
    assert [c.name for c in kinds.columns] == ["id", *(f.name for f in db.schema("Kinds").fields if f.name != "id")]
    key = kinds.column("id")
    assert key is not None and key.primary_key and key.auto_increment and not key.nullable
    assert {name: nullable for name, nullable in nullability(db, "kinds").items() if nullable} == {"note": True}
    assert db.migration_plan().empty
    reread = reopen(env="production")
    define_kinds(reread)
    assert reread.migration_plan().empty  # a new instance reads the same schema and plans nothing
    created = run_node(reread, "KindsCreateNode", sample_kinds())
    assert created["color"] is Color.GREEN and created["priority"] is Priority.HIGH


def sample_kinds() -> dict[str, Any]:
    return {
        "text": "t",
        "number": 7,
        "real": 1.5,
        "flag": True,
        "blob": b"\x00\x01",
        "amount": decimal.Decimal("1.25"),
        "moment": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "day": dt.date(2024, 1, 2),
        "clock": dt.time(3, 4, 5),
        "ident": uuid.UUID(int=1),
        "doc": {"a": 1},
        "items": [1, 2],
        "color": Color.GREEN,
        "priority": Priority.HIGH,
    }


def test_new_models_read_back_with_their_indexes_unique_keys_and_foreign_keys(reopen: Reopen) -> None:
    db = reopen(env="production")
    define_people(db)
    assert planned(db) == ["create table team (Team)", "create table user (User)"]
    db.migrate()
    assert set(live(db)) == {"team", "user"}
    # The primary key's index is not listed; the others are, under DataFlow's names. A database that
    # indexes each foreign key's columns itself (MySQL) may list that index too.
    listed = {(i.name, i.columns, i.unique) for i in live_table(db, "user").indexes}
    named = {("ix_user_age", ("age",), False), ("uq_user_email", ("email",), True)}
    assert listed >= named
    assert {columns for _, columns, _ in listed - named} <= {("team_id",)}
    assert foreign_keys(db, "user") == {(("team_id",), "team", ("id",))}
    assert nullability(db, "user") == {
        "id": False,
        "name": False,
        "email": False,
        "age": False,
        "active": False,
        "score": True,
        "team_id": True,
    }
    assert db.migration_plan().empty


# -- development and production ----------------------------------------------------------


def test_development_adds_missing_nullable_columns_and_never_drops(reopen: Reopen) -> None:
    seed_people(reopen)
    db = reopen()

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)]
        age: int | None = None

    @db.model
    class Badge:
        code: Annotated[str, MaxLength(100)]

    assert count(db, "Person") == 5
    columns = nullability(db, "person")
    assert columns["age"] is True
    assert "nickname" in columns  # never dropped without an explicit migration
    assert run_node(db, "BadgeCreateNode", {"code": "b"})["code"] == "b"
    assert "badge" in live(db)


def test_production_refuses_a_schema_that_does_not_match_at_first_use_and_prints_the_plan(reopen: Reopen) -> None:
    seed_people(reopen)
    db = reopen(env="production")

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)]
        age: int | None = None
        __dataflow__ = {"indexes": [("name",)]}

    cause = failure(db, "PersonCountNode")
    assert isinstance(cause, MigrationError)
    assert " 1. add column person.age" in cause.message and "drop column person.nickname" in cause.message
    assert "dataflow migrate" in cause.message and "ALTER TABLE" in cause.message.upper()
    assert "apply will refuse:" in cause.message and "--allow-destructive" in cause.message
    assert set(nullability(db, "person")) == {"id", "name", "email", "nickname"}


# -- each kind of step -------------------------------------------------------------------


def test_a_required_column_with_a_default_is_added_and_fills_the_existing_rows(reopen: Reopen) -> None:
    seed_people(reopen)
    db = reopen(env="production")

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        score: int = 7
        color: Color = Color.GREEN
        __dataflow__ = {"indexes": [("name",)]}

    applied = db.migrate()
    assert applied is not None and applied.steps == ("add column person.score", "add column person.color")
    assert nullability(db, "person")["score"] is False and nullability(db, "person")["color"] is False
    color = live_table(db, "person").column("color")
    assert color is not None and color.allowed == frozenset({"red", "green"})  # the enum's members, read back
    assert [(r["score"], r["color"]) for r in records(db, "Person")] == [(7, Color.GREEN)] * 5
    assert db.migration_plan().empty


def test_a_column_of_every_kind_is_added_to_a_table_with_rows_filled_with_its_default(reopen: Reopen) -> None:
    seed_people(reopen, rows=2)
    db = reopen(env="production")

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        flag: bool = True
        ratio: float = 0.5
        amount: decimal.Decimal = decimal.Decimal("1.25")
        moment: dt.datetime = dt.datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
        day: dt.date = dt.date(2020, 1, 2)
        clock: dt.time = dt.time(3, 4, 5)
        ident: uuid.UUID = uuid.UUID(int=1)
        blob: bytes = b"\x00\xff"
        doc: dict[str, Any] = {"a": [1, "\u00fc"]}
        color: Color = Color.RED
        priority: Priority = Priority.LOW
        __dataflow__ = {"indexes": [("name",)], "timestamps": True}

    applied = db.migrate()
    assert applied is not None and len(applied.steps) == 13  # with created_at and updated_at, filled with now
    assert db.migration_plan().empty
    for record in records(db, "Person"):
        assert {k: v for k, v in record.items() if k not in ("id", "name", "email", "created_at", "updated_at")} == {
            "nickname": None,
            "flag": True,
            "ratio": 0.5,
            "amount": decimal.Decimal("1.25"),
            "moment": dt.datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
            "day": dt.date(2020, 1, 2),
            "clock": dt.time(3, 4, 5),
            "ident": uuid.UUID(int=1),
            "blob": b"\x00\xff",
            "doc": {"a": [1, "\u00fc"]},
            "color": Color.RED,
            "priority": Priority.LOW,
        }
        assert record["created_at"] > dt.datetime(2020, 1, 1, tzinfo=dt.UTC) < record["updated_at"]


def test_a_new_model_and_a_column_referencing_it_are_added_together(reopen: Reopen) -> None:
    seed_people(reopen)
    db = reopen(env="production")

    @db.model
    class Team:
        name: Annotated[str, MaxLength(100)]

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        team: Team | None = None
        __dataflow__ = {"indexes": [("name",)]}

    applied = db.migrate()
    assert applied is not None and applied.steps == ("create table team (Team)", "add column person.team")
    assert foreign_keys(db, "person") == {(("team",), "team", ("id",))}
    team = run_node(db, "TeamCreateNode", {"name": "red"})
    assert run_node(db, "PersonUpdateNode", {"id": 1, "fields": {"team": team["id"]}})["team"] == team["id"]
    error = failure(db, "PersonUpdateNode", {"id": 2, "fields": {"team": 999}})
    assert isinstance(error, ForeignKeyViolationError)
    assert db.migration_plan().empty


def test_a_required_column_without_a_default_is_refused_with_the_row_count(reopen: Reopen) -> None:
    seed_people(reopen)
    db = reopen(env="production")

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        country: Annotated[str, MaxLength(100)]
        __dataflow__ = {"indexes": [("name",)]}

    with pytest.raises(MigrationError, match=r"add column person.country.*refused, 5 existing row\(s\)"):
        db.migrate(allow_destructive=True)
    assert "country" not in nullability(db, "person")
    assert len(history(db)) == 1  # the seed's apply only: a refused plan applies and records nothing


def test_dropping_a_column_is_destructive_and_keeps_the_other_columns_rows_and_indexes(reopen: Reopen) -> None:
    seed_people(reopen)
    db = reopen(env="production")

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)]
        __dataflow__ = {"indexes": [("name",)]}

    assert [step.destructive for step in db.migration_plan().steps] == [True]
    with pytest.raises(MigrationError, match="destructive"):
        db.migrate()
    assert "nickname" in nullability(db, "person")
    applied = db.migrate(allow_destructive=True)
    assert applied is not None and applied.steps == ("drop column person.nickname",)
    assert "nickname" not in nullability(db, "person")
    assert indexes(db, "person") == {(("name",), False)}
    assert [(r["name"], r["email"]) for r in records(db, "Person")][:2] == [("p0", "0@x"), ("p1", "1@x")]
    assert count(db, "Person") == 5


def test_a_rename_is_never_guessed_and_a_hint_keeps_the_data(reopen: Reopen) -> None:
    seed_people(reopen)
    development = reopen()
    person(development)
    run_node(development, "PersonUpdateNode", {"id": 1, "fields": {"nickname": "nick"}})
    development.close()
    db = reopen(env="production")

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)]
        alias: Annotated[str, MaxLength(100)] | None = None
        __dataflow__ = {"indexes": [("name",)]}

    plan = db.migration_plan()
    assert {s.describe() for s in plan.steps} == {"add column person.alias", "drop column person.nickname"}
    assert any("Person.nickname=alias" in note for note in plan.notes)
    with pytest.raises(MigrationError, match="destructive"):
        db.migrate()
    applied = db.migrate(renames=["Person.nickname=alias"])
    assert applied is not None and applied.steps == ("rename column person.nickname to alias",)
    assert run_node(db, "PersonReadNode", {"id": 1})["alias"] == "nick"
    assert db.migration_plan().empty


def test_not_null_is_refused_with_the_count_of_nulls_and_applied_once_they_are_filled(reopen: Reopen) -> None:
    seed_people(reopen)
    development = reopen()
    person(development)
    run_node(development, "PersonUpdateNode", {"id": 1, "fields": {"nickname": "one"}})
    development.close()
    db = reopen(env="production")

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)]
        __dataflow__ = {"indexes": [("name",)]}

    assert planned(db) == ["alter column person.nickname: not null"]
    assert "step 1 is refused while 4 existing row(s)" in str(db.migration_plan())
    with pytest.raises(MigrationError, match="destructive"):
        db.migrate()
    with pytest.raises(MigrationError, match=r"refused, 4 existing row\(s\)"):
        db.migrate(allow_destructive=True)
    assert nullability(db, "person")["nickname"] is True
    development = reopen()
    person(development)
    for key in range(2, 6):
        run_node(development, "PersonUpdateNode", {"id": key, "fields": {"nickname": f"n{key}"}})
    development.close()
    assert db.migrate(allow_destructive=True) is not None
    assert nullability(db, "person")["nickname"] is False
    assert [r["nickname"] for r in records(db, "Person")] == ["one", "n2", "n3", "n4", "n5"]
    assert db.migration_plan().empty


def test_a_column_that_becomes_nullable_is_not_destructive_and_keeps_its_values(reopen: Reopen) -> None:
    seed_people(reopen)
    db = reopen(env="production")

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)] | None = None
        nickname: Annotated[str, MaxLength(100)] | None = None
        __dataflow__ = {"indexes": [("name",)]}

    plan = db.migration_plan()
    assert planned(db) == ["alter column person.email: nullable"] and not plan.destructive
    assert db.migrate() is not None
    assert nullability(db, "person")["email"] is True
    assert [r["email"] for r in records(db, "Person")] == [f"{i}@x" for i in range(5)]
    assert run_node(db, "PersonCreateNode", {"name": "nobody"})["email"] is None
