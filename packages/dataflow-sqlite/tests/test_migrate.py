"""Schema evolution where SQLite differs: table rebuilds keep every row, TEXT storage, CHECKs for enums.

What every dialect must do (each kind of step, refusals with row counts, history) is in the compliance
suite (:mod:`dataflow.testing.suite.test_migrations`), run by test_compliance.py.
"""

from __future__ import annotations

import asyncio
import enum
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest

from dataflow import DataFlow, MaxLength, StoredValueError, WorkflowError
from dataflow.errors import MigrationError
from dataflow.testing.helpers import run_node


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'migrate.db'}"


@pytest.fixture
def open_db(url: str) -> Iterator[Callable[..., DataFlow]]:
    opened: list[DataFlow] = []

    def make(**options: Any) -> DataFlow:
        db = DataFlow(url, **options)
        opened.append(db)
        return db

    yield make
    for db in opened:
        if not db.closed:
            db.close()


def columns(url: str, table: str) -> dict[str, tuple[str, bool]]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
        return {row[1]: (row[2], not row[3]) for row in raw.execute(f'PRAGMA table_info("{table}")')}


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
        return raw.execute(sql).fetchall()


def version_one(db: DataFlow) -> None:
    @db.model
    class Person:
        name: str
        email: str
        nickname: str | None = None
        __dataflow__ = {"indexes": [("name",)]}


def seed(open_db: Callable[..., DataFlow]) -> None:
    db = open_db()
    version_one(db)
    run_node(db, "PersonBulkCreateNode", {"data": [{"name": f"p{i}", "email": f"{i}@x"} for i in range(5)]})
    db.close()


def test_narrowing_is_checked_against_the_rows(open_db: Callable[..., DataFlow], url: str) -> None:
    seed(open_db)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
        raw.execute("UPDATE person SET nickname = 'a very long nickname' WHERE id < 3")
    db = open_db(env="production")

    @db.model
    class Person:
        name: str
        email: str
        nickname: Annotated[str, MaxLength(5)] | None = None
        __dataflow__ = {"indexes": [("name",)]}

    # SQLite stores both as TEXT: the model's new limit is enforced by DataFlow, the type is unchanged.
    assert asyncio.run(db.migrator.plan()).empty

    @db.model
    class Badge:
        code: str

    db2 = open_db(env="production")

    @db2.model
    class Person:  # noqa: F811 - a later version of the model
        name: str
        email: str
        nickname: str
        __dataflow__ = {"indexes": [("name",)]}

    with pytest.raises(MigrationError, match=r"3 existing row\(s\)"):
        db2.migrate(allow_destructive=True)
    assert columns(url, "person")["nickname"] == ("TEXT", True)


def test_not_null_through_a_rebuild_keeps_every_row(open_db: Callable[..., DataFlow], url: str) -> None:
    seed(open_db)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
        raw.execute("UPDATE person SET nickname = 'n' || id")
    db = open_db(env="production")

    @db.model
    class Person:
        name: str
        email: str
        nickname: str
        __dataflow__ = {"indexes": [("name",)], "unique": [("email",)]}

    applied = db.migrate(allow_destructive=True)
    assert applied is not None
    assert set(applied.steps) == {"alter column person.nickname: not null", "add unique index on person (email)"}
    assert columns(url, "person")["nickname"] == ("TEXT", False)
    assert rows(url, "SELECT id, nickname FROM person ORDER BY id")[:2] == [(1, "n1"), (2, "n2")]
    assert asyncio.run(db.migrator.plan()).empty
    with pytest.raises(WorkflowError):
        run_node(db, "PersonCreateNode", {"name": "dup", "email": "0@x", "nickname": "x"})


def test_a_rebuild_and_a_new_index_in_one_plan(open_db: Callable[..., DataFlow], url: str) -> None:
    seed(open_db)
    db = open_db(env="production")

    @db.model
    class Person:
        name: str
        email: str
        nickname: str | None = None
        kind: str = "member"
        __dataflow__ = {"indexes": [("name",), ("kind",)], "unique": [("email",)]}

    applied = db.migrate()
    assert applied is not None
    assert set(applied.steps) == {
        "add column person.kind",
        "add index on person (kind)",
        "add unique index on person (email)",
    }
    names = {row[0] for row in rows(url, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"ix_person_name", "ix_person_kind"} <= names
    table_sql = rows(url, "SELECT sql FROM sqlite_master WHERE name = 'person'")[0][0]
    assert "uq_person_email" in table_sql and "__dataflow_rebuild" not in table_sql
    assert asyncio.run(db.migrator.plan()).empty


# -- foreign keys on existing columns --------------------------------------------------


def team_and_member(db: DataFlow, *, keyed: bool) -> None:
    @db.model
    class Team:
        name: str

    if keyed:

        @db.model
        class Member:
            name: str
            team_id: Team | None = None

    else:

        @db.model
        class Member:  # type: ignore[no-redef]
            name: str
            team_id: int | None = None


def seed_members(open_db: Callable[..., DataFlow], team_ids: list[int | None]) -> None:
    db = open_db(env="production")
    team_and_member(db, keyed=False)
    db.migrate()
    run_node(db, "TeamBulkCreateNode", {"data": [{"name": "t1"}, {"name": "t2"}]})
    run_node(db, "MemberBulkCreateNode", {"data": [{"name": f"m{i}", "team_id": t} for i, t in enumerate(team_ids)]})
    db.close()


def foreign_keys(url: str, table: str) -> list[tuple[str, str, str]]:
    return [(row[3], row[2], row[4]) for row in rows(url, f'PRAGMA foreign_key_list("{table}")')]


def test_a_foreign_key_with_other_changes_to_the_table_rebuilds_it_once(
    open_db: Callable[..., DataFlow], url: str
) -> None:
    seed_members(open_db, [1, None])
    db = open_db(env="production")

    @db.model
    class Team:
        name: str

    @db.model
    class Member:
        name: str
        team_id: Team | None = None
        note: str | None = None
        rank: int = 3

    applied = db.migrate()
    assert applied is not None
    assert set(applied.steps) == {
        "add column member.note",
        "add column member.rank",
        "add foreign key on member (team_id) to Team",
    }
    assert foreign_keys(url, "member") == [("team_id", "team", "id")]
    assert rows(url, "SELECT name, team_id, note, rank FROM member ORDER BY id") == [
        ("m0", 1, None, 3),
        ("m1", None, None, 3),
    ]
    assert asyncio.run(db.migrator.plan()).empty


def _seed_codes(open_db: Callable[..., DataFlow], codes: list[str]) -> None:
    db = open_db()

    @db.model
    class Item:
        code: str

    run_node(db, "ItemBulkCreateNode", {"data": [{"code": code} for code in codes]})
    db.close()


def test_text_narrowed_to_integer_is_refused_while_a_row_holds_text_that_is_not_a_number(
    open_db: Callable[..., DataFlow], url: str
) -> None:
    _seed_codes(open_db, ["7", "x7", "12"])
    db = open_db(env="production")

    @db.model
    class Item:
        code: int

    with pytest.raises(MigrationError, match=r"alter column item.code.*refused, 1 existing row\(s\)"):
        db.migrate(allow_destructive=True)
    assert columns(url, "item")["code"] == ("TEXT", False)
    assert rows(url, "SELECT code, typeof(code) FROM item ORDER BY id") == [
        ("7", "text"),
        ("x7", "text"),
        ("12", "text"),
    ]
    with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
        raw.execute("UPDATE item SET code = '07' WHERE code = 'x7'")
    assert db.migrate(allow_destructive=True) is not None
    assert columns(url, "item")["code"] == ("INTEGER", False)
    assert [r["code"] for r in run_node(db, "ItemListNode", {"order_by": ["id"]})["records"]] == [7, 7, 12]


def test_real_narrowed_to_integer_counts_values_with_a_fraction(open_db: Callable[..., DataFlow]) -> None:
    db = open_db()

    @db.model
    class Reading:
        value: float

    run_node(db, "ReadingBulkCreateNode", {"data": [{"value": 1.0}, {"value": 2.5}, {"value": 3.25}]})
    db.close()
    db = open_db(env="production")

    @db.model
    class Reading:  # noqa: F811 - a later version of the model
        value: int

    with pytest.raises(MigrationError, match=r"refused, 2 existing row\(s\)"):
        db.migrate(allow_destructive=True)


def test_an_int_field_never_returns_the_text_a_column_holds(open_db: Callable[..., DataFlow], url: str) -> None:
    db = open_db()

    @db.model
    class Item:
        code: int

    run_node(db, "ItemCreateNode", {"code": 1})
    with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
        raw.execute("UPDATE item SET code = 'x7'")
    with pytest.raises(WorkflowError) as info:
        run_node(db, "ItemReadNode", {"id": 1})
    error = info.value.cause
    assert isinstance(error, StoredValueError)
    assert (error.model, error.field, error.value) == ("Item", "code", "x7")
    assert "Item.code" in error.message and "'x7'" in error.message


def test_development_adds_a_not_null_column_by_a_rebuild_only_when_nothing_else_changes(
    open_db: Callable[..., DataFlow], url: str
) -> None:
    seed(open_db)
    db = open_db()

    @db.model
    class Person:
        name: str
        email: str
        score: int = 3
        __dataflow__ = {"indexes": [("name",)]}

    # The rebuild that adds score would also drop nickname, which development mode never does.
    with pytest.raises(WorkflowError) as info:
        run_node(db, "PersonCreateNode", {"name": "n", "email": "e"})
    cause = info.value.cause
    assert isinstance(cause, MigrationError) and (cause.model, cause.field) == ("Person", "score")
    assert "drop column person.nickname" in cause.message and "dataflow migrate apply" in cause.message
    assert "score" not in columns(url, "person") and "nickname" in columns(url, "person")


class Mark(enum.Enum):
    QUOTE = "it's"
    PAREN = "a) b"
    ONE = "x"


def test_enum_members_are_kept_by_a_check_that_a_rename_and_the_next_plan_recognise(
    open_db: Callable[..., DataFlow], url: str
) -> None:
    db = open_db(env="production")

    @db.model
    class Stamp:
        mark: Mark

    db.migrate()
    assert asyncio.run(db.migrator.plan()).empty
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        rows(url, "INSERT INTO stamp (mark) VALUES ('nope')")
    db.close()
    db = open_db(env="production")

    @db.model
    class Stamp:  # noqa: F811 - a later version of the model
        sign: Mark

    assert db.migrate(renames=["Stamp.mark=sign"]) is not None
    assert asyncio.run(db.migrator.plan()).empty
