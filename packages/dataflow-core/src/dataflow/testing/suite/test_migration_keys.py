"""Migrations on the dialect's database, continued: indexes, foreign keys, history, concurrent applies.

Checked, as in :mod:`.test_migrations`, through the dialect's introspector and through nodes only.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Annotated

import pytest

from ...errors import ForeignKeyViolationError, MigrationError, UniqueViolationError
from ...fields import MaxLength
from ..helpers import count, failure, records, run_node
from ..migrations import (
    Reopen,
    foreign_keys,
    history,
    indexes,
    live_table,
    person,
    planned,
    seed_members,
    seed_people,
    team_and_member,
)


def test_a_unique_index_is_refused_while_duplicates_exist_and_enforced_once_added(reopen: Reopen) -> None:
    seed_people(reopen)
    development = reopen()
    person(development)
    run_node(development, "PersonUpdateNode", {"id": 2, "fields": {"email": "0@x"}})
    run_node(development, "PersonUpdateNode", {"id": 3, "fields": {"email": "0@x"}})
    development.close()
    db = reopen(env="production")

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        __dataflow__ = {"indexes": [("name",)], "unique": [("email",)]}

    assert planned(db) == ["add unique index on person (email)"]
    with pytest.raises(MigrationError, match=r"refused, 2 existing row\(s\)"):
        db.migrate()
    assert indexes(db, "person") == {(("name",), False)}
    development = reopen()
    person(development)
    assert run_node(development, "PersonBulkDeleteNode", {"ids": [2, 3]}) == {"deleted": 2}
    development.close()
    assert db.migrate() is not None
    assert indexes(db, "person") == {(("name",), False), (("email",), True)}
    assert isinstance(failure(db, "PersonCreateNode", {"name": "dup", "email": "0@x"}), UniqueViolationError)
    assert db.migration_plan().empty


def test_an_index_is_added_and_dropped(reopen: Reopen) -> None:
    seed_people(reopen)
    db = reopen(env="production")

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        __dataflow__ = {"indexes": [("email", "name")]}

    applied = db.migrate()
    assert applied is not None
    dropped = next(s for s in applied.steps if s.startswith("drop index"))
    assert set(applied.steps) == {dropped, "add index on person (email, name)"}
    assert dropped == "drop index ix_person_name on person (name)"
    listed = {(i.name, i.columns) for i in live_table(db, "person").indexes}
    assert listed == {("ix_person_email_name", ("email", "name"))}
    assert count(db, "Person") == 5
    assert db.migration_plan().empty


# -- foreign keys on existing columns ----------------------------------------------------


def test_a_foreign_key_on_an_existing_column_is_added_and_enforced(reopen: Reopen) -> None:
    seed_members(reopen, [1, 2, None])
    db = reopen(env="production")
    team_and_member(db, keyed=True)
    assert planned(db) == ["add foreign key on member (team_id) to Team"]
    applied = db.migrate()
    assert applied is not None and applied.steps == ("add foreign key on member (team_id) to Team",)
    assert foreign_keys(db, "member") == {(("team_id",), "team", ("id",))}
    assert [(r["name"], r["team_id"]) for r in records(db, "Member")] == [("m0", 1), ("m1", 2), ("m2", None)]
    assert db.migration_plan().empty
    assert isinstance(failure(db, "MemberCreateNode", {"name": "bad", "team_id": 404}), ForeignKeyViolationError)


def test_a_foreign_key_is_refused_with_the_count_of_rows_that_point_nowhere(reopen: Reopen) -> None:
    seed_members(reopen, [1, 404, 405, None])
    db = reopen(env="production")
    team_and_member(db, keyed=True)
    with pytest.raises(MigrationError, match=r"refused, 2 existing row\(s\)"):
        db.migrate()
    assert foreign_keys(db, "member") == set()
    development = reopen()  # production runs no node while the schema differs
    team_and_member(development, keyed=False)
    assert count(development, "Member") == 4


def test_a_field_that_stops_referencing_drops_its_foreign_key_and_keeps_the_values(reopen: Reopen) -> None:
    seed_members(reopen, [1])
    db = reopen(env="production")
    team_and_member(db, keyed=True)
    db.migrate()
    db.close()
    db = reopen(env="production")
    team_and_member(db, keyed=False)
    applied = db.migrate()
    assert applied is not None and len(applied.steps) == 1
    assert applied.steps[0].startswith("drop foreign key") and applied.steps[0].endswith(" on member (team_id)")
    assert foreign_keys(db, "member") == set()
    assert db.migration_plan().empty
    run_node(db, "MemberCreateNode", {"name": "free", "team_id": 404})
    assert [(r["name"], r["team_id"]) for r in records(db, "Member")] == [("m0", 1), ("free", 404)]


# -- history and concurrency -------------------------------------------------------------


def test_history_records_every_apply_with_its_steps_and_checksum(reopen: Reopen) -> None:
    db = reopen(env="production")
    person(db)
    first = db.migrate()
    assert first is not None
    assert db.migrate() is None  # nothing left to apply records nothing
    db.close()
    db = reopen(env="production")

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        age: int | None = None
        __dataflow__ = {"indexes": [("name",)]}

    second = db.migrate()
    assert second is not None and second.steps == ("add column person.age",)
    entries = history(db)
    # One entry per apply; a database without transactional DDL records each step as it completes
    # ("auto [1/1] add column person.age"). Both applies here have one step.
    assert [e["checksum"] for e in entries] == [first.checksum, second.checksum]
    assert all(e["name"].split(" [")[0] == a.name for e, a in zip(entries, (first, second), strict=True))
    assert all(len(entry["checksum"]) == 64 and "@" in entry["applied_by"] for entry in entries)
    assert "CREATE TABLE" in entries[0]["statements"].upper()
    assert "age" in entries[1]["statements"] and "nickname" not in entries[1]["statements"]
    assert entries[0]["applied_at"].tzinfo is not None and entries[0]["applied_at"] <= entries[1]["applied_at"]


def test_three_processes_migrating_at_once_apply_the_plan_once(dataflow_database_url: str, reopen: Reopen) -> None:
    script = textwrap.dedent(
        f"""
        from dataflow import DataFlow
        db = DataFlow({dataflow_database_url!r}, env="production")

        @db.model
        class Person:
            name: str
            score: int = 1

        print(repr(db.migrate()))
        db.close()
        """
    )
    processes = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0].strip() for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0]
    assert sorted(output == "None" for output in outputs) == [False, True, True]
    assert len(history(reopen(env="production"))) == 1
