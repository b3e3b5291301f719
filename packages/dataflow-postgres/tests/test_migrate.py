"""Schema evolution where PostgreSQL differs: its types and conversions, constraints, transactional DDL, locks.

What every dialect must do (each kind of step, refusals with row counts, history) is in the compliance
suite (:mod:`dataflow.testing.suite.test_migrations`), run by test_compliance.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import enum
import json
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import pytest
from click.testing import CliRunner
from pg_testing import fetch, plain_url, run_node

from dataflow import DataFlow, ForeignKeyViolationError, MaxLength, WorkflowError
from dataflow.cli import main
from dataflow.errors import DataFlowError, MigrationError
from dataflow.migrate.live import LiveTable
from dataflow.url import DatabaseURL
from dataflow_postgres.connection import PostgresConnection
from dataflow_postgres.introspect import PostgresColumn, PostgresIndex, PostgresIntrospector, allowed_values
from dataflow_postgres.schema_editor import canonical, widens


@pytest.fixture
def url(dataflow_database_url: str) -> str:
    return dataflow_database_url


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


async def _live(url: str) -> dict[str, LiveTable]:
    schema = DatabaseURL.parse(url).options["schema"]
    raw = await asyncpg.connect(plain_url(url), server_settings={"search_path": f'"{schema}"'})
    try:
        return dict(await PostgresIntrospector().tables(PostgresConnection(raw)))
    finally:
        await raw.close()


def live(url: str) -> dict[str, LiveTable]:
    """The schema as the introspector reads it from a connection of its own."""
    return asyncio.run(_live(url))


def column(url: str, table: str, name: str) -> PostgresColumn:
    found = live(url)[table].column(name)
    assert isinstance(found, PostgresColumn), f"{table}.{name} is missing"
    return found


def indexes(url: str, table: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    return {index.name: (index.columns, index.unique) for index in live(url)[table].indexes}


def values(url: str, sql: str) -> list[Any]:
    return [tuple(row) if len(row) > 1 else row[0] for row in fetch(url, sql)]


def advisory_locks(url: str) -> int:
    """Advisory locks held in the test's database."""
    sql = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return int(fetch(url, sql)[0][0])


def version_one(db: DataFlow) -> None:
    @db.model
    class Person:
        name: str
        email: str
        nickname: str | None = None
        __dataflow__ = {"indexes": [("name",)]}


def seed(open_db: Callable[..., DataFlow], count: int = 5) -> None:
    db = open_db()
    version_one(db)
    run_node(db, "PersonBulkCreateNode", {"data": [{"name": f"p{i}", "email": f"{i}@x"} for i in range(count)]})
    db.close()


def plan_of(db: DataFlow, renames: tuple[str, ...] = ()) -> list[str]:
    return [step.describe() for step in asyncio.run(db.migrator.plan(renames)).steps]


class Colour(enum.Enum):
    RED = "red"
    GREEN = "it's green"


class Level(enum.IntEnum):
    LOW = 1
    MINUS = -2


# -- introspection --------------------------------------------------------------------


def test_every_kind_matches_its_own_table_after_create(open_db: Callable[..., DataFlow], url: str) -> None:
    db = open_db(env="production")

    @db.model
    class Kinds:
        text: str
        short: Annotated[str, MaxLength(20)]
        number: int
        real: float
        flag: bool
        blob: bytes
        amount: decimal.Decimal
        moment: dt.datetime
        day: dt.date
        clock: dt.time
        key: uuid.UUID
        doc: dict[str, Any]
        colour: Colour
        level: Level
        maybe: int | None = None

    assert db.migrate() is not None
    assert plan_of(db) == []
    types = {c.name: (c.type, c.nullable) for c in live(url)["kinds"].columns}
    assert types == {
        "id": ("bigint", False),
        "text": ("text", False),
        "short": ("character varying(20)", False),
        "number": ("bigint", False),
        "real": ("double precision", False),
        "flag": ("boolean", False),
        "blob": ("bytea", False),
        "amount": ("numeric", False),
        "moment": ("timestamp with time zone", False),
        "day": ("date", False),
        "clock": ("time without time zone", False),
        "key": ("uuid", False),
        "doc": ("jsonb", False),
        "colour": ("text", False),
        "level": ("bigint", False),
        "maybe": ("bigint", True),
    }
    assert column(url, "kinds", "colour").allowed == {"red", "it's green"}
    assert column(url, "kinds", "level").allowed == {"1", "-2"}
    assert column(url, "kinds", "id").primary_key


def test_only_the_current_schema_is_read(open_db: Callable[..., DataFlow], url: str, pg_database: str) -> None:
    # Another schema of the same database holds a table of the same name: it is not this one's.
    other = f"{DatabaseURL.parse(url).options['schema']}_other"
    fetch(pg_database, f'CREATE SCHEMA "{other}"')
    try:
        fetch(pg_database, f'CREATE TABLE "{other}".person (id bigint PRIMARY KEY, legacy text)')
        db = open_db(env="production")
        version_one(db)
        assert plan_of(db) == ["create table person (Person)"]
    finally:
        fetch(pg_database, f'DROP SCHEMA "{other}" CASCADE')


@pytest.mark.parametrize(
    ("reported", "model"),
    [
        ("character varying(100)", "VARCHAR(100)"),
        ("timestamp with time zone", "TIMESTAMPTZ"),
        ("time without time zone", "TIME"),
        ("double precision", "DOUBLE PRECISION"),
        ("bigint", "BIGINT"),
        ("text", "TEXT CHECK (\"a\" IN ('x'))"),
    ],
)
def test_reported_types_compare_equal_to_the_dialects_spelling(reported: str, model: str) -> None:
    assert canonical(reported) == canonical(model)


@pytest.mark.parametrize(
    ("old", "new", "widening"),
    [
        ("integer", "bigint", True),
        ("bigint", "integer", False),
        ("character varying(5)", "character varying(10)", True),
        ("character varying(10)", "character varying(5)", False),
        ("character varying(10)", "text", True),
        ("real", "double precision", True),
        ("numeric(10,2)", "numeric(12,3)", True),
        ("numeric(10,2)", "numeric(10,3)", False),
        ("numeric(10,2)", "numeric", True),
        ("text", "bigint", False),
        ("bigint", "double precision", False),
        ("timestamp(3) with time zone", "timestamp with time zone", True),
    ],
)
def test_widening_rules(old: str, new: str, widening: bool) -> None:
    assert widens(canonical(old), canonical(new)) is widening


def test_enum_checks_are_read_back_as_their_values() -> None:
    assert allowed_values("CHECK ((s = ANY (ARRAY['a'::text, 'it''s'::text])))", "s") == {"a", "it's"}
    assert allowed_values("CHECK ((l = ANY (ARRAY[(1)::bigint, ('-2'::integer)::bigint])))", "l") == {"1", "-2"}
    assert allowed_values("CHECK ((l = 5))", "l") == {"5"}
    assert allowed_values("CHECK ((length(s) > 3))", "s") is None


# -- columns ---------------------------------------------------------------------------


def test_a_foreign_key_column_added_later_is_named_like_create_tables(
    open_db: Callable[..., DataFlow], url: str
) -> None:
    seed(open_db)
    db = open_db(env="production")

    @db.model
    class Team:
        name: str

    @db.model
    class Person:
        name: str
        email: str
        nickname: str | None = None
        team_id: Team | None = None
        __dataflow__ = {"indexes": [("name",)]}

    db.migrate()
    keys = live(url)["person"].foreign_keys
    assert [(k.name, k.columns, k.table) for k in keys] == [("fk_person_team_id", ("team_id",), "team")]


def test_a_renamed_enum_column_keeps_a_check_the_next_plan_recognises(
    open_db: Callable[..., DataFlow], url: str
) -> None:
    db = open_db()

    @db.model
    class Paint:
        colour: Colour

    run_node(db, "PaintCreateNode", {"colour": Colour.RED})
    db.close()
    db = open_db(env="production")

    @db.model
    class Paint:  # noqa: F811 - a later version of the model
        shade: Colour

    db.migrate(renames=["Paint.colour=shade"])
    assert column(url, "paint", "shade").check == "paint_shade_check"
    assert plan_of(db) == []


def test_a_rename_and_a_narrowing_in_one_plan_are_checked_under_the_old_name(
    open_db: Callable[..., DataFlow], url: str
) -> None:
    seed(open_db)
    fetch(url, "UPDATE person SET nickname = 'a long nickname' WHERE id <= 2")
    db = open_db(env="production")

    @db.model
    class Person:
        name: str
        email: str
        alias: Annotated[str, MaxLength(5)] | None = None
        __dataflow__ = {"indexes": [("name",)]}

    with pytest.raises(MigrationError, match=r"2 existing row\(s\)"):
        db.migrate(allow_destructive=True, renames=["Person.nickname=alias"])
    fetch(url, "UPDATE person SET nickname = 'short' WHERE id <= 2")
    db.migrate(allow_destructive=True, renames=["Person.nickname=alias"])
    assert column(url, "person", "alias").type == "character varying(5)"
    assert values(url, "SELECT alias FROM person WHERE id = 1") == ["short"]


def test_a_printed_plan_counts_what_it_can_before_apply_and_leaves_the_rest_to_apply(
    open_db: Callable[..., DataFlow], url: str
) -> None:
    seed(open_db)
    db = open_db(env="production")

    @db.model
    class Person:
        name: str
        email: str
        alias: Annotated[str, MaxLength(5)] | None = None
        country: str
        __dataflow__ = {"indexes": [("name",)]}

    plan = asyncio.run(db.migrator.plan(["Person.nickname=alias"]))
    # The narrowing of alias is counted under its new name, which exists only once the rename ran;
    # the failed count must not spoil the next one (the required country, refused for 5 rows).
    assert [review.checked for review in plan.reviews] == [False, False, True]
    text = str(plan)
    assert "type character varying -> VARCHAR(5)" in text or "type text -> VARCHAR(5)" in text
    assert "step 3 is refused while 5 existing row(s)" in text


# -- types ------------------------------------------------------------------------------


def make_item(url: str, column_type: str, *rows: Any) -> None:
    """A hand-made ``item`` table whose ``value`` column has ``column_type``, holding ``rows``."""
    fetch(url, f"CREATE TABLE item (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, value {column_type})")
    for row in rows:
        fetch(url, f"INSERT INTO item (value) VALUES ($1::{column_type})", row)


def item_model(db: DataFlow, hint: Any) -> None:
    db.model(type("Item", (), {"__annotations__": {"value": hint}}))


def test_widening_integer_to_bigint_is_safe_and_keeps_the_data(open_db: Callable[..., DataFlow], url: str) -> None:
    make_item(url, "integer", 2**31 - 1, -(2**31), None)
    db = open_db(env="production")
    item_model(db, int | None)
    plan = asyncio.run(db.migrator.plan())
    assert [s.describe() for s in plan.steps] == ["alter column item.value: type integer -> BIGINT"]
    assert plan.destructive == ()
    db.migrate()  # no allow_destructive needed
    assert column(url, "item", "value").type == "bigint"
    assert values(url, "SELECT value FROM item ORDER BY id") == [2**31 - 1, -(2**31), None]
    run_node(db, "ItemCreateNode", {"value": 2**40})
    assert values(url, "SELECT max(value) FROM item") == [2**40]


@pytest.mark.parametrize(
    ("old_type", "rows", "hint", "new_type", "stored"),
    [
        ("character varying(5)", ["abcde"], str | None, "text", ["abcde"]),
        ("real", [1.5], float | None, "double precision", [1.5]),
        ("timestamp", [dt.datetime(2024, 1, 2, 3, 4, 5)], dt.datetime | None, "timestamp with time zone",
         [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)]),
        ("numeric(10,2)", [decimal.Decimal("12.34")], decimal.Decimal | None, "numeric", [decimal.Decimal("12.34")]),
        ("json", ['{"a": 1}'], dict[str, Any] | None, "jsonb", ['{"a": 1}']),
    ],
)  # fmt: skip
def test_other_widenings_need_no_flag_and_keep_the_data(
    open_db: Callable[..., DataFlow], url: str, old_type: str, rows: list[Any], hint: Any, new_type: str, stored: Any
) -> None:
    make_item(url, old_type, *rows)
    db = open_db(env="production")
    item_model(db, hint)
    assert asyncio.run(db.migrator.plan()).destructive == ()
    db.migrate()
    assert column(url, "item", "value").type == new_type
    assert values(url, "SELECT value FROM item ORDER BY id") == stored


@pytest.mark.parametrize(
    ("old_type", "rows", "hint", "new_type", "stored"),
    [
        ("text", ["42", " -7 ", "007", None], int | None, "bigint", [42, -7, 7, None]),
        ("numeric", [decimal.Decimal("3"), decimal.Decimal("-4.000")], int | None, "bigint", [3, -4]),
        ("text", ["1.5", "NaN", "2e3"], float | None, "double precision", [1.5, float("nan"), 2000.0]),
        ("bigint", [0, 1], bool | None, "boolean", [False, True]),
        ("text", ["red", None], Colour | None, "text", ["red", None]),
        ("timestamp with time zone", [dt.datetime(2024, 1, 2, tzinfo=dt.UTC)], dt.date | None, "date",
         [dt.date(2024, 1, 2)]),
        ("text", ["12345678-1234-5678-1234-567812345678"], uuid.UUID | None, "uuid",
         [uuid.UUID("12345678-1234-5678-1234-567812345678")]),
    ],
)  # fmt: skip
def test_a_type_change_that_converts_data_keeps_it(
    open_db: Callable[..., DataFlow], url: str, old_type: str, rows: list[Any], hint: Any, new_type: str, stored: Any
) -> None:
    make_item(url, old_type, *rows)
    db = open_db(env="production")
    item_model(db, hint)
    with pytest.raises(MigrationError, match="destructive"):
        db.migrate()
    db.migrate(allow_destructive=True)
    assert column(url, "item", "value").type == new_type
    got = values(url, "SELECT value FROM item ORDER BY id")
    assert [str(v) for v in got] == [str(v) for v in stored]  # str: NaN is not equal to itself
    assert plan_of(db) == []


@pytest.mark.parametrize(
    ("old_type", "rows", "hint", "offending"),
    [
        ("text", ["1", "x", "22", "3.5", "99999999999999999999", None], int | None, 3),
        ("text", ["abcdef", "ab", None], Annotated[str, MaxLength(3)] | None, 1),
        ("character varying(10)", ["abcdef", "ab"], Annotated[str, MaxLength(5)] | None, 1),
        ("numeric", [decimal.Decimal(1), decimal.Decimal("2.5"), decimal.Decimal("1e20")], int | None, 2),
        ("double precision", [1.5, 2.0, float("inf")], int | None, 2),
        ("text", ["1.5", "nan", "x", "1e5", "-.5"], float | None, 1),
        ("bigint", [0, 1, 2], bool | None, 1),
        ("bigint", [2**53 + 1, 5], float | None, 1),
        ("double precision", [0.1 + 0.2, 0.5], decimal.Decimal | None, 1),
        ("text", ["red", "blue", "green", None], Colour | None, 2),
        ("timestamp with time zone", [dt.datetime(2024, 1, 2, 10, tzinfo=dt.UTC)], dt.date | None, 1),
    ],
)
def test_narrowing_is_refused_with_the_count_of_offending_rows(
    open_db: Callable[..., DataFlow], url: str, old_type: str, rows: list[Any], hint: Any, offending: int
) -> None:
    make_item(url, old_type, *rows)
    db = open_db(env="production")
    item_model(db, hint)
    with pytest.raises(MigrationError, match=rf"refused, {offending} existing row\(s\)"):
        db.migrate(allow_destructive=True)
    assert column(url, "item", "value").type == old_type
    assert len(asyncio.run(db.migrator.history())) == 0


def test_narrowing_applies_once_the_rows_fit(open_db: Callable[..., DataFlow], url: str) -> None:
    make_item(url, "text", "abcdef", "ab")
    db = open_db(env="production")
    item_model(db, Annotated[str, MaxLength(3)] | None)
    with pytest.raises(MigrationError, match=r"1 existing row\(s\)"):
        db.migrate(allow_destructive=True)
    fetch(url, "UPDATE item SET value = left(value, 3)")
    db.migrate(allow_destructive=True)
    assert column(url, "item", "value").type == "character varying(3)"
    assert values(url, "SELECT value FROM item ORDER BY id") == ["abc", "ab"]


def test_a_conversion_that_cannot_be_counted_in_advance_fails_inside_the_transaction(
    open_db: Callable[..., DataFlow], url: str
) -> None:
    make_item(url, "text", "12345678-1234-5678-1234-567812345678", "not a uuid")
    before = live(url)
    db = open_db(env="production")
    item_model(db, uuid.UUID | None)
    with pytest.raises(DataFlowError, match="uuid"):
        db.migrate(allow_destructive=True)
    assert live(url) == before


def test_changing_an_enum_replaces_its_check(open_db: Callable[..., DataFlow], url: str) -> None:
    class Size(enum.Enum):
        S = "s"
        M = "m"

    class BiggerSize(enum.Enum):
        S = "s"
        M = "m"
        L = "l"

    class SmallerSize(enum.Enum):
        S = "s"

    db = open_db()
    item_model(db, Size)
    run_node(db, "ItemBulkCreateNode", {"data": [{"value": Size.S}, {"value": Size.M}]})
    db.close()

    bigger = open_db(env="production")
    item_model(bigger, BiggerSize)
    assert asyncio.run(bigger.migrator.plan()).destructive == ()  # a new member loses nothing
    bigger.migrate()
    assert column(url, "item", "value").allowed == {"s", "m", "l"}
    run_node(bigger, "ItemCreateNode", {"value": BiggerSize.L})

    smaller = open_db(env="production")
    item_model(smaller, SmallerSize)
    with pytest.raises(MigrationError, match=r"2 existing row\(s\)"):
        smaller.migrate(allow_destructive=True)

    plain = open_db(env="production")
    item_model(plain, str)
    plain.migrate()  # back to free text: the CHECK goes, nothing is lost
    assert column(url, "item", "value") == PostgresColumn(name="value", type="text", nullable=False)
    fetch(url, "INSERT INTO item (value) VALUES ('anything')")


# -- indexes --------------------------------------------------------------------------------


def test_adding_a_unique_constraint_refuses_duplicates_and_applies_once_they_are_gone(
    open_db: Callable[..., DataFlow], url: str
) -> None:
    db = open_db()
    version_one(db)
    rows = [{"name": "a", "email": "same@x"}, {"name": "b", "email": "same@x"}, {"name": "c", "email": "c@x"}]
    run_node(db, "PersonBulkCreateNode", {"data": rows})
    db.close()
    db = open_db(env="production")

    @db.model
    class Person:
        name: str
        email: str
        nickname: str | None = None
        __dataflow__ = {"indexes": [("name",)], "unique": [("email",)]}

    with pytest.raises(MigrationError, match=r"1 existing row\(s\)"):
        db.migrate()
    fetch(url, "DELETE FROM person WHERE name = 'b'")
    applied = db.migrate()
    assert applied is not None and applied.steps == ("add unique index on person (email)",)
    assert indexes(url, "person")["uq_person_email"] == (("email",), True)
    index = next(i for i in live(url)["person"].indexes if i.name == "uq_person_email")
    assert isinstance(index, PostgresIndex) and index.constraint  # a constraint, as CREATE TABLE makes it
    with pytest.raises(WorkflowError):
        run_node(db, "PersonCreateNode", {"name": "d", "email": "same@x"})


def test_a_new_column_and_its_unique_constraint_in_one_plan(open_db: Callable[..., DataFlow], url: str) -> None:
    seed(open_db)
    db = open_db(env="production")

    @db.model
    class Person:
        name: str
        email: str
        nickname: str | None = None
        code: str | None = None
        __dataflow__ = {"indexes": [("name",)], "unique": [("code",)]}

    applied = db.migrate()
    assert applied is not None and applied.steps == ("add column person.code", "add unique index on person (code)")
    assert indexes(url, "person")["uq_person_code"] == (("code",), True)


def test_a_new_column_whose_default_would_repeat_under_a_unique_constraint_changes_nothing(
    open_db: Callable[..., DataFlow], url: str
) -> None:
    seed(open_db)
    before = live(url)
    db = open_db(env="production")

    @db.model
    class Person:
        name: str
        email: str
        nickname: str | None = None
        code: str = "same"
        __dataflow__ = {"indexes": [("name",)], "unique": [("code",)]}

    with pytest.raises(DataFlowError, match=r"add unique index on person \(code\): refused, 4 existing row"):
        db.migrate()
    assert live(url) == before


def test_dropping_a_unique_constraint(open_db: Callable[..., DataFlow], url: str) -> None:
    db = open_db()

    @db.model
    class Account:
        login: str
        __dataflow__ = {"unique": [("login",)]}

    run_node(db, "AccountCreateNode", {"login": "ann"})
    db.close()
    db = open_db(env="production")

    @db.model
    class Account:  # noqa: F811 - a later version of the model
        login: str

    applied = db.migrate()
    assert applied is not None and applied.steps == ("drop unique index uq_account_login on account (login)",)
    assert (
        'ALTER TABLE "account" DROP CONSTRAINT "uq_account_login"'
        in asyncio.run(db.migrator.history())[0]["statements"]
    )
    assert indexes(url, "account") == {}
    run_node(db, "AccountCreateNode", {"login": "ann"})  # duplicates are allowed now


def test_a_hand_made_unique_index_is_dropped_as_an_index(open_db: Callable[..., DataFlow], url: str) -> None:
    db = open_db()

    @db.model
    class Account:
        login: str

    run_node(db, "AccountCountNode", {})
    db.close()
    fetch(url, 'CREATE UNIQUE INDEX "uq_account_login" ON account (login)')
    db = open_db(env="production")

    @db.model
    class Account:  # noqa: F811 - a later version of the model
        login: str

    db.migrate()
    assert indexes(url, "account") == {}


# -- applying ---------------------------------------------------------------------------------


def test_a_plan_whose_later_step_fails_leaves_the_schema_as_it_was(open_db: Callable[..., DataFlow], url: str) -> None:
    # '007' and '7' differ as text but collide as bigints: the duplicate check, run inside the
    # plan's transaction after the type change, refuses the unique index, and nothing stays applied.
    make_item(url, "text", "007", "7")
    before = live(url)
    db = open_db(env="production")

    @db.model
    class Item:
        value: int | None = None
        note: str | None = None
        __dataflow__ = {"unique": [("value",)]}

    assert plan_of(db) == [
        "alter column item.value: type text -> BIGINT (narrowing)",
        "add column item.note",
        "add unique index on item (value)",
    ]
    with pytest.raises(DataFlowError) as info:
        db.migrate(allow_destructive=True)
    assert "add unique index on item (value): refused, 1 existing row(s)" in str(info.value)
    assert live(url) == before  # the history table, created in the same transaction, is gone too
    assert values(url, "SELECT value FROM item ORDER BY id") == ["007", "7"]
    assert advisory_locks(url) == 0  # released, though the pool keeps the connection


def test_a_second_migrator_waits_for_the_lock(open_db: Callable[..., DataFlow], url: str) -> None:
    holder = open_db(env="production")
    version_one(holder)
    waiter = open_db(env="production")
    version_one(waiter)

    async def run() -> tuple[bool, Any, Any]:
        async with holder.migrator.session() as session:
            editor = holder.dialect.schema_editor(holder.schemas)
            async with editor.lock(session):
                second = asyncio.create_task(waiter.migrate_async())
                await asyncio.sleep(0.5)
                waited = not second.done()
        applied = await second
        again = await holder.migrate_async()
        await holder.close_async()
        await waiter.close_async()
        return waited, applied, again

    waited, applied, again = asyncio.run(run())
    assert waited
    assert applied is not None and again is None


# -- the command line -------------------------------------------------------------------------------

MODELS = textwrap.dedent(
    """
    from dataflow import DataFlow

    db = DataFlow("postgresql://unused@127.0.0.1:1/unused")  # the tests pass --database-url

    @db.model
    class Item:
        name: str
        {extra}
    """
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATAFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATAFLOW_MODELS", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in [m for m in sys.modules if m.startswith("pgmodels")]:
        del sys.modules[module]


def invoke(*args: str) -> tuple[int, str]:
    for module in [m for m in sys.modules if m.startswith("pgmodels")]:
        del sys.modules[module]
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_cli_migrate_status_plan_apply_history(project: Path, url: str) -> None:
    (project / "pgmodels_a.py").write_text(MODELS.format(extra=""))
    target = ("--models", "pgmodels_a:db", "--database-url", url)
    code, output = invoke("migrate", "status", *target)
    assert code == 1 and "create table item (Item)" in output
    code, output = invoke("migrate", "plan", *target)
    assert code == 0 and 'CREATE TABLE IF NOT EXISTS "item"' in output and "GENERATED BY DEFAULT AS IDENTITY" in output
    code, output = invoke("migrate", "apply", *target)
    assert code == 0 and "[1/1] create table item (Item)" in output
    code, output = invoke("migrate", "status", *target, "--json")
    report = json.loads(output)
    assert code == 0 and report["pending"] == [] and report["applied"] == 1
    code, output = invoke("migrate", "history", *target, "--json")
    assert code == 0 and [e["name"] for e in json.loads(output)] == ["auto"]
    assert not (project / "unused.db").exists()
    assert "item" in live(url)


def test_cli_destructive_steps_need_the_flag_and_renames_take_a_hint(project: Path, url: str) -> None:
    (project / "pgmodels_b.py").write_text(MODELS.format(extra="note: str | None = None"))
    assert invoke("migrate", "apply", "--models", "pgmodels_b:db", "--database-url", url)[0] == 0
    fetch(url, "INSERT INTO item (name, note) VALUES ('a', 'kept')")
    (project / "pgmodels_c.py").write_text(MODELS.format(extra="remark: str | None = None"))
    target = ("--models", "pgmodels_c:db", "--database-url", url)
    code, output = invoke("migrate", "apply", *target)
    assert code == 1 and "destructive" in output and "Item.note=remark" in output
    code, output = invoke("migrate", "plan", *target, "--rename", "Item.note=remark")
    assert code == 0 and 'ALTER TABLE "item" RENAME COLUMN "note" TO "remark"' in output
    code, output = invoke("migrate", "apply", *target, "--rename", "Item.note=remark")
    assert code == 0 and "rename column item.note to remark" in output
    assert values(url, "SELECT remark FROM item") == ["kept"]


def test_cli_reports_narrowing_refusals(project: Path, url: str) -> None:
    (project / "pgmodels_d.py").write_text(MODELS.format(extra="code: str | None = None"))
    assert invoke("migrate", "apply", "--models", "pgmodels_d:db", "--database-url", url)[0] == 0
    fetch(url, "INSERT INTO item (name, code) VALUES ('a', '12'), ('b', 'x1')")
    (project / "pgmodels_e.py").write_text(MODELS.format(extra="code: int | None = None"))
    code, output = invoke("migrate", "apply", "--models", "pgmodels_e:db", "--database-url", url, "--allow-destructive")
    assert code == 1 and "1 existing row(s)" in output


def test_cli_migration_files_are_written_applied_once_and_guarded(project: Path, url: str) -> None:
    (project / "pgmodels_f.py").write_text(MODELS.format(extra=""))
    assert invoke("migrate", "apply", "--models", "pgmodels_f:db", "--database-url", url)[0] == 0
    fetch(url, "INSERT INTO item (name) VALUES ('a')")
    (project / "pgmodels_g.py").write_text(MODELS.format(extra="score: int = 3"))
    target = ("--models", "pgmodels_g:db", "--database-url", url)
    code, output = invoke("migrate", "make", "add score", *target)
    written = project / "migrations" / "0001_add_score.py"
    assert code == 0 and "0001_add_score.py" in output
    assert "DIALECT = 'postgresql'" in written.read_text()
    code, output = invoke("migrate", "apply", *target, "--directory", "migrations")
    assert code == 0 and "applied 0001_add_score" in output
    assert values(url, "SELECT score FROM item") == [3]
    assert invoke("migrate", "status", *target)[0] == 0
    assert "up to date" in invoke("migrate", "apply", *target, "--directory", "migrations")[1]
    written.write_text(written.read_text().replace("NOT NULL", "NOT NULL -- edited"))
    code, output = invoke("migrate", "apply", *target, "--directory", "migrations")
    assert code == 1 and "edited after it was applied" in output


# -- foreign keys on existing columns ----------------------------------------------------


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


def foreign_keys(url: str, table: str) -> set[tuple[str | None, tuple[str, ...], str, tuple[str, ...]]]:
    return {(key.name, key.columns, key.table, key.ref_columns) for key in live(url)[table].foreign_keys}


def test_a_foreign_key_on_an_existing_column_is_added_as_a_constraint(
    open_db: Callable[..., DataFlow], url: str
) -> None:
    seed_members(open_db, [1, 2, None])
    db = open_db(env="production")
    team_and_member(db, keyed=True)
    assert plan_of(db) == ["add foreign key on member (team_id) to Team"]
    applied = db.migrate()
    assert applied is not None and applied.steps == ("add foreign key on member (team_id) to Team",)
    assert foreign_keys(url, "member") == {("fk_member_team_id", ("team_id",), "team", ("id",))}
    assert values(url, "SELECT name, team_id FROM member ORDER BY id") == [("m0", 1), ("m1", 2), ("m2", None)]
    assert plan_of(db) == []
    with pytest.raises(WorkflowError) as info:
        run_node(db, "MemberCreateNode", {"name": "bad", "team_id": 404})
    assert isinstance(info.value.cause, ForeignKeyViolationError)


def test_a_foreign_key_someone_else_made_is_left_alone(open_db: Callable[..., DataFlow], url: str) -> None:
    seed_members(open_db, [1])
    fetch(url, 'ALTER TABLE member ADD CONSTRAINT "their_key" FOREIGN KEY (team_id) REFERENCES team (id)')
    db = open_db(env="production")
    team_and_member(db, keyed=False)
    assert plan_of(db) == []
