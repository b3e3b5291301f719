"""Schema evolution where MySQL and MariaDB differ: their types, DDL that commits step by step, GET_LOCK, InnoDB keys.

What every dialect must do (each kind of step, refusals with row counts, history) is in the compliance
suite (:mod:`dataflow.testing.suite.test_migrations`), run by test_compliance.py.
"""

from __future__ import annotations

import asyncio
import enum
import re
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any, TypeVar

import pymysql
import pytest
from mysql_helpers import admin_connection

from dataflow import DataFlow, ForeignKeyViolationError, MaxLength, WorkflowError
from dataflow.errors import MigrationError
from dataflow.migrate.live import LiveForeignKey, LiveIndex, LiveTable
from dataflow.testing.helpers import define_kinds, run_node
from dataflow_mysql.schema_editor import MySQLSchemaEditor
from dataflow_mysql.type_changes import canonical, widens

T = TypeVar("T")


@pytest.fixture
def url(dataflow_database_url: str) -> str:
    return dataflow_database_url


@pytest.fixture
def open_db(url: str) -> Iterator[Callable[..., DataFlow]]:
    """``open_db(env=..., suffix="?option=...")``: a DataFlow on the test's database, production unless told."""
    opened: list[DataFlow] = []

    def make(env: str = "production", suffix: str = "") -> DataFlow:
        db = DataFlow(url + suffix, env=env)
        opened.append(db)
        return db

    yield make
    for db in opened:
        if not db.closed:
            db.close()


def sql(database: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run ``statement`` on the test's database outside DataFlow, and return its rows."""
    connection = admin_connection(database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return list(cursor.fetchall())
    finally:
        connection.close()


def run(db: DataFlow, action: Callable[[], Awaitable[T]]) -> T:
    """Run ``action`` on a fresh loop, closing that loop's pool after it."""

    async def main() -> T:
        try:
            return await action()
        finally:
            await db.close_loop(asyncio.get_running_loop())

    return asyncio.run(main())


def live(db: DataFlow) -> dict[str, LiveTable]:
    """The schema as the dialect's introspection reads it."""

    async def read() -> dict[str, LiveTable]:
        async with db.migrator.session() as session:
            return await db.migrator.live(session)

    return run(db, read)


def columns(db: DataFlow, table: str) -> dict[str, tuple[str, bool]]:
    return {c.name: (c.type, c.nullable) for c in live(db)[table].columns}


def indexes(db: DataFlow, table: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    return {i.name: (i.columns, i.unique) for i in live(db)[table].indexes}


def planned(db: DataFlow, renames: tuple[str, ...] = ()) -> list[str]:
    return [step.describe() for step in run(db, lambda: db.migrator.plan(renames)).steps]


def history(db: DataFlow) -> list[dict[str, Any]]:
    return run(db, db.migrator.history)


def version_one(db: DataFlow) -> None:
    @db.model
    class Person:
        name: str
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        __dataflow__ = {"indexes": [("name",)]}


def seed(open_db: Callable[..., DataFlow], rows: int = 5) -> None:
    db = open_db()
    version_one(db)
    db.migrate()
    run_node(db, "PersonBulkCreateNode", {"data": [{"name": f"p{i}", "email": f"{i}@x"} for i in range(rows)]})
    db.close()


# -- comparing types ------------------------------------------------------------------


def test_mariadb_and_mysql_spellings_of_a_type_compare_equal() -> None:
    assert canonical("bigint(20)") == canonical("BIGINT") == "bigint"
    assert canonical("tinyint(1)") == "tinyint(1)" != canonical("tinyint(4)")
    assert canonical("decimal(65,30)") == canonical("DECIMAL(65, 30)")
    assert canonical("CHAR(36) CHARACTER SET ascii COLLATE ascii_bin") == canonical("char(36) character set ascii")
    assert canonical("int(10) unsigned") == "int unsigned"


@pytest.mark.parametrize(
    ("old", "new", "lossless"),
    [
        ("int(11)", "BIGINT", True),
        ("bigint(20)", "int", False),
        ("int unsigned", "BIGINT", True),
        ("bigint unsigned", "BIGINT", False),
        ("tinyint(1)", "BIGINT", True),
        ("VARCHAR(20)", "VARCHAR(100)", True),
        ("VARCHAR(100)", "VARCHAR(5)", False),
        ("VARCHAR(768)", "LONGTEXT", True),
        ("LONGTEXT", "VARCHAR(255)", False),
        ("CHAR(36) CHARACTER SET ascii", "VARCHAR(36)", True),
        ("VARCHAR(36)", "CHAR(36) CHARACTER SET ascii COLLATE ascii_bin", False),
        ("VARBINARY(10)", "LONGBLOB", True),
        ("LONGBLOB", "VARBINARY(3072)", False),
        ("JSON", "LONGTEXT", True),
        ("LONGTEXT", "JSON", False),
        ("FLOAT", "DOUBLE", True),
        ("DOUBLE", "BIGINT", False),
        ("DECIMAL(10,2)", "DECIMAL(65, 30)", True),
        ("DECIMAL(65,30)", "BIGINT", False),
        ("DATETIME", "DATETIME(6)", True),
        ("DATETIME(6)", "DATE", False),
    ],
)
def test_widening_keeps_every_value_and_anything_else_is_narrowing(old: str, new: str, lossless: bool) -> None:
    assert widens(old, new) is lossless


# -- creating -----------------------------------------------------------------------------


def test_new_models_create_tables_with_their_indexes_unique_keys_and_foreign_keys(
    open_db: Callable[..., DataFlow],
) -> None:
    db = open_db()
    define_kinds(db)

    @db.model
    class Team:
        name: str
        __dataflow__ = {"unique": [("name",)]}

    @db.model
    class Person:
        name: str
        email: Annotated[str, MaxLength(100)]
        team: Team | None = None
        __dataflow__ = {"indexes": [("name",)], "unique": [("email",)]}

    assert planned(db) == ["create table kinds (Kinds)", "create table team (Team)", "create table person (Person)"]
    applied = db.migrate()
    assert applied is not None and len(applied.steps) == 3
    assert planned(db) == []  # every type DataFlow creates reads back as the same type
    tables = live(db)
    person = tables["person"]
    assert {(c.name, c.type, c.nullable) for c in person.columns} == {
        ("id", "BIGINT", False),
        ("name", "LONGTEXT", False),
        ("email", "VARCHAR(100)", False),
        ("team", "BIGINT", True),
    }
    assert [c.name for c in person.columns if c.primary_key] == ["id"]
    assert set(person.indexes) == {
        LiveIndex("ix_person_name", ("name",), unique=False),
        LiveIndex("uq_person_email", ("email",), unique=True),
        LiveIndex("fk_person_team", ("team",), unique=False),  # InnoDB's index behind the foreign key
    }
    assert person.foreign_keys == (LiveForeignKey(("team",), "team", ("id",), name="fk_person_team"),)
    assert tables["team"].column("name").type == "VARCHAR(255)"  # type: ignore[union-attr]  # str in a unique key
    kinds = {c.name: c.type for c in tables["kinds"].columns}
    assert kinds["doc"] == kinds["items"] == "JSON"  # MariaDB's LONGTEXT + json_valid check, normalised
    assert kinds["ident"] == "CHAR(36) CHARACTER SET ascii"
    assert kinds["amount"] == "DECIMAL(65,30)" and kinds["flag"] == "TINYINT(1)"
    assert run_node(db, "PersonCountNode", {}) == {"count": 0}  # production accepts the schema it made


# -- columns -------------------------------------------------------------------------------


def test_adding_a_required_column_with_a_default_fills_existing_rows(
    open_db: Callable[..., DataFlow], database_name: str
) -> None:
    seed(open_db)
    db = open_db()

    @db.model
    class Person:
        name: str
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        score: int = 7
        motto: str = "carpe diem"
        __dataflow__ = {"indexes": [("name",)]}

    applied = db.migrate()
    assert applied is not None and applied.steps == ("add column person.score", "add column person.motto")
    person = columns(db, "person")
    assert person["score"] == ("BIGINT", False) and person["motto"] == ("LONGTEXT", False)
    assert sql(database_name, "SELECT DISTINCT score, motto FROM person") == [(7, "carpe diem")]
    # The default filled the rows and went: DataFlow keeps defaults in the model, not in the table.
    defaults = sql(
        database_name,
        "SELECT COLUMN_DEFAULT FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'person' AND COLUMN_NAME IN ('score', 'motto')",
    )
    assert defaults == [(None,), (None,)]
    assert run_node(db, "PersonCreateNode", {"name": "n", "email": "n@x"})["score"] == 7


def test_dropping_a_column_takes_its_foreign_key_and_keys_with_it(open_db: Callable[..., DataFlow]) -> None:
    db = open_db()

    @db.model
    class Team:
        name: str

    @db.model
    class Person:
        name: str
        team: Team | None = None
        __dataflow__ = {"unique": [("name", "team")]}

    db.migrate()
    team = run_node(db, "TeamCreateNode", {"name": "red"})
    run_node(db, "PersonCreateNode", {"name": "ann", "team": team["id"]})
    db.close()
    db = open_db()

    @db.model
    class Team:  # noqa: F811 - a later version of the model
        name: str

    @db.model
    class Person:  # noqa: F811 - a later version of the model
        name: str

    # Without its unique key, name is no longer VARCHAR(255) but LONGTEXT (a widening).
    assert planned(db) == [
        "alter column person.name: type VARCHAR(255) -> LONGTEXT",
        "drop column person.team",
        "drop unique index uq_person_name_team on person (name, team)",
    ]
    applied = db.migrate(allow_destructive=True)
    assert applied is not None
    person = live(db)["person"]
    assert [c.name for c in person.columns] == ["id", "name"]
    assert person.column("name").type == "LONGTEXT"  # type: ignore[union-attr]
    assert person.indexes == () and person.foreign_keys == ()
    assert run_node(db, "PersonReadNode", {"id": 1})["name"] == "ann"
    assert planned(db) == []


def test_a_renamed_column_can_narrow_in_the_same_plan(open_db: Callable[..., DataFlow], database_name: str) -> None:
    seed(open_db)
    sql(database_name, "UPDATE person SET nickname = 'far too long' WHERE id = 1")
    db = open_db()

    @db.model
    class Person:
        name: str
        email: Annotated[str, MaxLength(100)]
        alias: Annotated[str, MaxLength(8)] | None = None
        __dataflow__ = {"indexes": [("name",)]}

    # The rows are checked before the rename runs, under the column's old name.
    with pytest.raises(MigrationError, match=r"1 existing row\(s\)"):
        db.migrate(renames=["Person.nickname=alias"], allow_destructive=True)
    sql(database_name, "UPDATE person SET nickname = 'short' WHERE id = 1")
    applied = db.migrate(renames=["Person.nickname=alias"], allow_destructive=True)
    assert applied is not None and len(applied.steps) == 2
    assert columns(db, "person")["alias"] == ("VARCHAR(8)", True)
    assert sql(database_name, "SELECT alias FROM person WHERE id = 1") == [("short",)]


def test_widening_keeps_the_data(open_db: Callable[..., DataFlow], database_name: str) -> None:
    sql(
        database_name,
        "CREATE TABLE person (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL, "
        "visits INT NOT NULL, KEY ix_person_name (name)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin",
    )
    sql(database_name, "INSERT INTO person (name, visits) VALUES ('ann', 2147483647), ('bob', -1)")
    db = open_db()

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        visits: int
        __dataflow__ = {"indexes": [("name",)]}

    assert planned(db) == [
        "alter column person.name: type VARCHAR(20) -> VARCHAR(100)",
        "alter column person.visits: type INT -> BIGINT",
    ]
    applied = db.migrate()  # no allow_destructive: nothing can be lost
    assert applied is not None
    assert columns(db, "person") == {
        "id": ("BIGINT", False),
        "name": ("VARCHAR(100)", False),
        "visits": ("BIGINT", False),
    }
    assert sql(database_name, "SELECT name, visits FROM person ORDER BY id") == [("ann", 2147483647), ("bob", -1)]
    run_node(db, "PersonCreateNode", {"name": "c" * 100, "visits": 2**40})
    assert sql(database_name, "SELECT MAX(visits) FROM person") == [(2**40,)]


def test_a_column_widened_to_longtext_keeps_its_index_through_a_prefix(
    open_db: Callable[..., DataFlow], database_name: str
) -> None:
    seed(open_db)
    db = open_db()

    @db.model
    class Person:
        name: str
        email: str
        nickname: Annotated[str, MaxLength(100)] | None = None
        __dataflow__ = {"indexes": [("name",), ("email",)]}

    assert planned(db) == ["alter column person.email: type VARCHAR(100) -> LONGTEXT", "add index on person (email)"]
    db.migrate()
    db.close()
    db = open_db()

    @db.model
    class Person:  # noqa: F811 - a later version of the model
        name: str
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        __dataflow__ = {"indexes": [("name",), ("email",)]}

    # Back from LONGTEXT: a narrowing, checked against the rows, and the index loses its prefix.
    db.migrate(allow_destructive=True)
    assert indexes(db, "person")["ix_person_email"] == (("email",), False)
    sub_parts = sql(
        database_name,
        "SELECT INDEX_NAME, SUB_PART FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'person' AND INDEX_NAME LIKE 'ix%%' ORDER BY INDEX_NAME",
    )
    assert sub_parts == [("ix_person_email", None), ("ix_person_name", 255)]
    assert planned(db) == []


def test_narrowing_is_refused_with_the_count_of_rows_that_do_not_fit(
    open_db: Callable[..., DataFlow], database_name: str
) -> None:
    seed(open_db)
    sql(database_name, "UPDATE person SET nickname = 'a very long nickname' WHERE id IN (1, 2)")
    sql(database_name, "UPDATE person SET nickname = 'ééééé' WHERE id = 3")  # 5 characters in 10 bytes: it fits
    db = open_db()

    @db.model
    class Person:
        name: str
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(5)] | None = None
        __dataflow__ = {"indexes": [("name",)]}

    assert planned(db) == ["alter column person.nickname: type VARCHAR(100) -> VARCHAR(5) (narrowing)"]
    with pytest.raises(MigrationError, match="destructive"):
        db.migrate()
    with pytest.raises(MigrationError, match=r"2 existing row\(s\) would be lost"):
        db.migrate(allow_destructive=True)
    assert columns(db, "person")["nickname"] == ("VARCHAR(100)", True)
    sql(database_name, "UPDATE person SET nickname = 'short' WHERE id IN (1, 2)")
    db.migrate(allow_destructive=True)
    assert columns(db, "person")["nickname"] == ("VARCHAR(5)", True)
    assert sql(database_name, "SELECT nickname FROM person WHERE id = 3") == [("ééééé",)]


def test_a_number_column_narrowed_to_an_integer_counts_fractions_and_out_of_range_values(
    open_db: Callable[..., DataFlow], database_name: str
) -> None:
    sql(database_name, "CREATE TABLE reading (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, value DOUBLE NOT NULL)")
    sql(database_name, "INSERT INTO reading (value) VALUES (1), (1.5), (1e30), (-2)")
    db = open_db()

    @db.model
    class Reading:
        value: int

    with pytest.raises(MigrationError, match=r"2 existing row\(s\)"):
        db.migrate(allow_destructive=True)
    sql(database_name, "DELETE FROM reading WHERE value IN (1.5, 1e30)")
    db.migrate(allow_destructive=True)
    assert sql(database_name, "SELECT value FROM reading ORDER BY id") == [(1,), (-2,)]


def test_text_becoming_json_counts_the_rows_that_are_not_json(
    open_db: Callable[..., DataFlow], database_name: str
) -> None:
    sql(database_name, "CREATE TABLE note (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, body LONGTEXT NULL)")
    sql(database_name, "INSERT INTO note (body) VALUES ('{\"a\": 1}'), ('[1, 2]'), ('not json'), (NULL)")
    db = open_db()

    @db.model
    class Note:
        body: dict[str, Any] | None = None

    assert planned(db) == ["alter column note.body: type LONGTEXT -> JSON (narrowing)"]
    with pytest.raises(MigrationError, match=r"1 existing row\(s\)"):
        db.migrate(allow_destructive=True)
    sql(database_name, "DELETE FROM note WHERE body = 'not json'")
    db.migrate(allow_destructive=True)
    assert columns(db, "note")["body"] == ("JSON", True)
    assert run_node(db, "NoteReadNode", {"id": 1})["body"] == {"a": 1}


# -- indexes -------------------------------------------------------------------------------


def test_a_unique_index_is_refused_while_duplicates_exist(open_db: Callable[..., DataFlow], database_name: str) -> None:
    seed(open_db)
    sql(database_name, "UPDATE person SET email = 'same@x' WHERE id <= 3")
    db = open_db()

    @db.model
    class Person:
        name: str
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        __dataflow__ = {"indexes": [("name",)], "unique": [("email",), ("nickname",)]}

    # Three equal emails are two rows too many; the nicknames are all NULL, which a unique key allows.
    with pytest.raises(MigrationError, match=r"add unique index on person \(email\): refused, 2 existing row"):
        db.migrate()
    assert "uq_person_email" not in indexes(db, "person")
    sql(database_name, "UPDATE person SET email = CONCAT(id, '@y') WHERE id <= 3")
    db.migrate()
    found = indexes(db, "person")
    assert found["uq_person_email"] == (("email",), True) and found["uq_person_nickname"] == (("nickname",), True)
    with pytest.raises(WorkflowError):
        run_node(db, "PersonCreateNode", {"name": "dup", "email": "1@y"})


def test_a_new_column_with_a_unique_index_is_checked_as_it_will_be(open_db: Callable[..., DataFlow]) -> None:
    seed(open_db)
    db = open_db()

    @db.model
    class Person:
        name: str
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        badge: Annotated[str, MaxLength(20)] = "none"
        __dataflow__ = {"indexes": [("name",)], "unique": [("badge",)]}

    # Every row would get the default: four of the five would repeat it.
    with pytest.raises(MigrationError, match=r"add unique index on person \(badge\): refused, 4 existing row"):
        db.migrate()
    db.close()
    db = open_db()

    @db.model
    class Person:  # noqa: F811 - a later version of the model
        name: str
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        code: Annotated[str, MaxLength(20)] | None = None
        __dataflow__ = {"indexes": [("name",)], "unique": [("code",)]}

    applied = db.migrate()  # NULL in every row: nothing repeats
    assert applied is not None and applied.steps == ("add column person.code", "add unique index on person (code)")
    assert indexes(db, "person")["uq_person_code"] == (("code",), True)


def test_a_str_field_joining_a_unique_group_becomes_varchar_255_and_back(
    open_db: Callable[..., DataFlow], database_name: str
) -> None:
    seed(open_db)
    sql(database_name, "UPDATE person SET name = REPEAT('x', 300) WHERE id = 1")
    db = open_db()

    @db.model
    class Person:
        name: str
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        __dataflow__ = {"indexes": [("name",)], "unique": [("name",)]}

    assert planned(db) == [
        "alter column person.name: type LONGTEXT -> VARCHAR(255) (narrowing)",
        "add unique index on person (name)",
    ]
    with pytest.raises(MigrationError, match=r"1 existing row\(s\)"):
        db.migrate(allow_destructive=True)
    sql(database_name, "UPDATE person SET name = 'p0' WHERE id = 1")
    db.migrate(allow_destructive=True)
    assert columns(db, "person")["name"] == ("VARCHAR(255)", False)
    assert indexes(db, "person")["uq_person_name"] == (("name",), True)
    db.close()

    db = open_db()
    version_one(db)
    assert planned(db) == [
        "alter column person.name: type VARCHAR(255) -> LONGTEXT",
        "drop unique index uq_person_name on person (name)",
    ]
    applied = db.migrate()  # a widening and an index drop lose nothing
    assert applied is not None
    assert columns(db, "person")["name"] == ("LONGTEXT", False)
    assert indexes(db, "person") == {"ix_person_name": (("name",), False)}
    assert planned(db) == []


# -- history, failures and the lock ---------------------------------------------------------


def test_history_records_every_step_with_its_checksum(open_db: Callable[..., DataFlow]) -> None:
    db = open_db()
    version_one(db)

    @db.model
    class Badge:
        code: str

    applied = db.migrate()
    assert applied is not None
    entries = history(db)
    assert [e["name"] for e in entries] == [
        "auto [1/2] create table person (Person)",
        "auto [2/2] create table badge (Badge)",
    ]
    for entry in entries:
        assert re.fullmatch("[0-9a-f]{64}", entry["checksum"])
        assert entry["statements"].startswith("CREATE TABLE IF NOT EXISTS") and "@" in entry["applied_by"]
    assert len({e["checksum"] for e in entries} | {applied.checksum}) == 3
    assert db.migrate() is None
    assert len(history(db)) == 2


def test_a_failing_step_is_reported_exactly_and_apply_resumes_from_the_live_schema(
    open_db: Callable[..., DataFlow], database_name: str
) -> None:
    seed(open_db)

    def person(db: DataFlow, wide_columns: int, long_columns: int) -> None:
        """Person with ``wide_columns`` VARCHAR(768) columns and ``long_columns`` LONGTEXT ones after them."""
        annotations: dict[str, Any] = {
            "name": str,
            "email": Annotated[str, MaxLength(100)],
            "nickname": Annotated[str, MaxLength(100)] | None,
        }
        annotations.update({f"w{i:02}": Annotated[str, MaxLength(768)] | None for i in range(wide_columns)})
        annotations.update({f"w{i:02}": str | None for i in range(wide_columns, wide_columns + long_columns)})
        namespace: dict[str, Any] = {name: None for name in annotations if name not in ("name", "email")}
        namespace.update(__annotations__=annotations, __dataflow__={"indexes": [("name",)]})
        db.model(type("Person", (), namespace))

    # InnoDB rows hold at most 65,535 bytes outside LONGTEXT: the server refuses the 22nd VARCHAR(768)
    # (3,074 bytes each), which no comparison of models and schema can foresee.
    db = open_db()
    person(db, wide_columns=23, long_columns=0)
    with pytest.raises(MigrationError) as info:
        db.migrate()
    message = str(info.value)
    assert "step 22 of 23 (add column person.w21) failed" in message
    assert "Row size too large" in message and "steps 1-21 were applied and recorded" in message
    entries = history(db)
    assert len(entries) == 1 + 21  # the seed's table, then one row per applied step
    assert entries[-1]["name"] == "auto [21/23] add column person.w20"
    assert "w20" in columns(db, "person") and "w21" not in columns(db, "person")
    db.close()

    # With the cause fixed (the last columns become LONGTEXT, kept off the row) the plan is what is left.
    db = open_db()
    person(db, wide_columns=21, long_columns=2)
    assert planned(db) == ["add column person.w21", "add column person.w22"]
    applied = db.migrate()
    assert applied is not None and len(applied.steps) == 2
    assert columns(db, "person")["w22"] == ("LONGTEXT", True)
    assert sql(database_name, "SELECT COUNT(*) FROM person") == [(5,)]
    assert len(history(db)) == 1 + 21 + 2
    assert planned(db) == []


def test_two_processes_migrating_at_once_apply_the_plan_once(url: str, open_db: Callable[..., DataFlow]) -> None:
    seed(open_db)
    script = textwrap.dedent(
        f"""
        from typing import Annotated
        from dataflow import DataFlow, MaxLength

        db = DataFlow("{url}", env="production")

        @db.model
        class Person:
            name: str
            email: Annotated[str, MaxLength(100)]
            nickname: Annotated[str, MaxLength(100)] | None = None
            score: int = 1
            __dataflow__ = {{"unique": [("email",)]}}

        @db.model
        class Badge:
            code: str

        applied = db.migrate()
        print(None if applied is None else len(applied.steps))
        db.close()
        """
    )
    processes = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=60)[0].strip() for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0]
    assert sorted(outputs) == ["4", "None", "None"]
    db = open_db()
    assert [e["name"].partition(" ")[2] for e in history(db)] == [
        "[1/1] create table person (Person)",
        "[1/4] add column person.score",
        "[2/4] add unique index on person (email)",
        "[3/4] drop index ix_person_name on person (name)",
        "[4/4] create table badge (Badge)",
    ]


def test_the_lock_is_named_after_the_database_within_mysqls_64_characters() -> None:
    short = DataFlow("mysql://root@127.0.0.1:3306/shop", env="production").dialect.schema_editor({})
    long = DataFlow("mysql://root@127.0.0.1:3306/" + "d" * 64, env="production").dialect.schema_editor({})
    assert isinstance(short, MySQLSchemaEditor) and isinstance(long, MySQLSchemaEditor)
    assert short.lock_name() == "dataflow_migrate:shop"
    assert len(long.lock_name()) <= 64


def test_a_second_migration_waits_for_the_lock_and_gives_up_clearly(
    open_db: Callable[..., DataFlow], database_name: str
) -> None:
    holder = admin_connection(database_name)
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0)", (f"dataflow_migrate:{database_name}",))
            assert cursor.fetchone() == (1,)
        db = open_db(suffix="?migrate_lock_timeout=0.5")
        version_one(db)
        with pytest.raises(MigrationError, match=r"another migration of \w+ is running"):
            db.migrate()
        assert "person" not in live(db)
    finally:
        holder.close()  # the server releases a lock when its session ends
    assert db.migrate() is not None


# -- foreign keys on existing columns ------------------------------------------------------


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
    db = open_db()
    team_and_member(db, keyed=False)
    db.migrate()
    run_node(db, "TeamBulkCreateNode", {"data": [{"name": "t1"}, {"name": "t2"}]})
    run_node(db, "MemberBulkCreateNode", {"data": [{"name": f"m{i}", "team_id": t} for i, t in enumerate(team_ids)]})
    db.close()


def test_a_foreign_key_on_an_existing_column_is_added_with_alter_table(
    open_db: Callable[..., DataFlow], database_name: str
) -> None:
    seed_members(open_db, [1, 2, None])
    db = open_db()
    team_and_member(db, keyed=True)
    assert planned(db) == ["add foreign key on member (team_id) to Team"]
    applied = db.migrate()
    assert applied is not None and applied.steps == ("add foreign key on member (team_id) to Team",)
    assert live(db)["member"].foreign_keys == (
        LiveForeignKey(columns=("team_id",), table="team", ref_columns=("id",), name="fk_member_team_id"),
    )
    # InnoDB backs the key with an index named after it: it is the key's, not a change to plan.
    assert indexes(db, "member") == {"fk_member_team_id": (("team_id",), False)}
    assert planned(db) == []
    assert sql(database_name, "SELECT name, team_id FROM member ORDER BY id") == [("m0", 1), ("m1", 2), ("m2", None)]
    with pytest.raises(WorkflowError) as info:
        run_node(db, "MemberCreateNode", {"name": "bad", "team_id": 404})
    assert isinstance(info.value.cause, ForeignKeyViolationError)


def test_a_field_that_stops_referencing_drops_the_foreign_key_and_its_index(
    open_db: Callable[..., DataFlow], database_name: str
) -> None:
    seed_members(open_db, [1])
    db = open_db()
    team_and_member(db, keyed=True)
    db.migrate()
    db.close()
    db = open_db()
    team_and_member(db, keyed=False)
    applied = db.migrate()
    assert applied is not None and applied.steps == ("drop foreign key fk_member_team_id on member (team_id)",)
    assert live(db)["member"].foreign_keys == ()
    assert indexes(db, "member") == {}
    assert planned(db) == []
    run_node(db, "MemberCreateNode", {"name": "free", "team_id": 404})
    assert sql(database_name, "SELECT name, team_id FROM member ORDER BY id") == [("m0", 1), ("free", 404)]


def test_a_foreign_key_made_with_the_table_is_dropped_and_made_again(open_db: Callable[..., DataFlow]) -> None:
    db = open_db()
    team_and_member(db, keyed=True)
    db.migrate()
    db.close()
    db = open_db()
    team_and_member(db, keyed=False)
    db.migrate()
    assert live(db)["member"].foreign_keys == () and indexes(db, "member") == {}
    db.close()
    db = open_db()
    team_and_member(db, keyed=True)
    assert db.migrate() is not None
    assert [key.name for key in live(db)["member"].foreign_keys] == ["fk_member_team_id"]
    assert planned(db) == []


class Mark(enum.Enum):
    QUOTE = "it's"
    SLASH = "a\\b"
    ONE = "x"


class Rank(enum.Enum):
    LOW = 1
    MINUS = -2


def test_enum_members_are_read_back_from_their_check_with_quotes_and_backslashes(
    open_db: Callable[..., DataFlow],
) -> None:
    db = open_db()

    @db.model
    class Stamp:
        mark: Mark
        rank: Rank | None = None

    db.migrate()
    stamp = {column.name: column for column in live(db)["stamp"].columns}
    assert stamp["mark"].allowed == {"it's", "a\\b", "x"}
    assert stamp["rank"].allowed == {"1", "-2"}
    assert planned(db) == []


def test_the_server_refuses_a_value_outside_the_enum_written_around_dataflow(
    open_db: Callable[..., DataFlow], database_name: str
) -> None:
    db = open_db()

    @db.model
    class Stamp:
        mark: Mark

    db.migrate()
    with pytest.raises(pymysql.err.OperationalError, match="ck_stamp_mark"):
        sql(database_name, "INSERT INTO stamp (mark) VALUES ('nope')")


def test_a_renamed_enum_column_keeps_a_check_the_next_plan_recognises(open_db: Callable[..., DataFlow]) -> None:
    db = open_db()

    @db.model
    class Stamp:
        mark: Mark

    db.migrate()
    db.close()
    db = open_db()

    @db.model
    class Stamp:  # noqa: F811 - a later version of the model
        sign: Mark

    assert db.migrate(renames=["Stamp.mark=sign"]) is not None
    assert planned(db) == []


class Rate(enum.Enum):
    HALF = "50%"
    FULL = "100%"


def test_a_new_enum_column_with_a_default_and_a_percent_in_a_member_is_added_with_its_check(
    open_db: Callable[..., DataFlow],
) -> None:
    seed(open_db)
    db = open_db()

    @db.model
    class Person:
        name: str
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        rate: Rate = Rate.HALF
        __dataflow__ = {"indexes": [("name",)]}

    assert db.migrate() is not None
    assert planned(db) == []
    assert {c.name: c for c in live(db)["person"].columns}["rate"].allowed == {"50%", "100%"}


class Mood(enum.Enum):
    GLAD = "glad"
    SAD = "sad"
    MEH = "meh"


class MoodWithoutMeh(enum.Enum):
    GLAD = "glad"
    SAD = "sad"


def test_an_enum_column_renamed_and_narrowed_in_one_plan_and_then_dropped(
    open_db: Callable[..., DataFlow], database_name: str
) -> None:
    db = open_db()

    @db.model
    class Diary:
        mood: Mood

    db.migrate()
    sql(database_name, "INSERT INTO diary (mood) VALUES ('glad'), ('meh')")
    db.close()
    db = open_db()

    @db.model
    class Diary:  # noqa: F811 - a later version of the model
        feeling: MoodWithoutMeh

    with pytest.raises(MigrationError, match=r"refused, 1 existing row\(s\)"):
        db.migrate(allow_destructive=True, renames=["Diary.mood=feeling"])
    sql(database_name, "DELETE FROM diary WHERE mood = 'meh'")
    assert db.migrate(allow_destructive=True, renames=["Diary.mood=feeling"]) is not None
    assert planned(db) == []
    assert {c.name: c for c in live(db)["diary"].columns}["feeling"].allowed == {"glad", "sad"}
    db.close()
    db = open_db()

    @db.model
    class Diary:  # noqa: F811 - a later version of the model
        note: str | None = None

    assert db.migrate(allow_destructive=True) is not None
    assert planned(db) == []
    assert sql(
        database_name, "SELECT COUNT(*) FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()"
    ) == [(0,)]
