"""Models that change under a database with rows: what development mode adds, what a migration refuses."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ...database import DataFlow
from ...errors import MigrationError, StoredValueError, UniqueViolationError
from ..helpers import failure, records, run_node


@pytest.fixture
def reopen(dataflow_database_url: str) -> Iterator[Callable[..., DataFlow]]:
    """``reopen(**options)``: a new DataFlow on the test database; every one is closed after the test."""
    opened: list[DataFlow] = []

    def make(**options: Any) -> DataFlow:
        db = DataFlow(dataflow_database_url, **{"env": "test", **options})
        opened.append(db)
        return db

    yield make
    for db in opened:
        if not db.closed:
            db.close()


def _seed_notes(reopen: Callable[..., DataFlow]) -> None:
    db = reopen()

    @db.model
    class Note:
        title: str

    run_node(db, "NoteBulkCreateNode", {"data": [{"title": "a"}, {"title": "b"}]})
    db.close()


def test_development_adds_a_not_null_column_with_its_default(reopen: Callable[..., DataFlow]) -> None:
    _seed_notes(reopen)
    db = reopen()

    @db.model
    class Note:
        title: str
        stars: int = 3

    created = run_node(db, "NoteCreateNode", {"title": "c", "stars": 5})
    assert created["stars"] == 5
    assert [(r["title"], r["stars"]) for r in records(db, "Note")] == [("a", 3), ("b", 3), ("c", 5)]
    assert db.migration_plan().empty


def test_development_refuses_a_new_required_column_and_says_to_migrate(reopen: Callable[..., DataFlow]) -> None:
    _seed_notes(reopen)
    db = reopen()

    @db.model
    class Note:
        title: str
        author: str

    cause = failure(db, "NoteCreateNode", {"title": "c", "author": "ann"})
    assert isinstance(cause, MigrationError)
    assert (cause.model, cause.field) == ("Note", "author")
    assert "has no default" in cause.message and "dataflow migrate apply" in cause.message


class Shade(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class ShadeWithoutBlue(enum.Enum):
    """Shade less a member: the longest value stays, so the column's type alone does not change."""

    RED = "red"
    GREEN = "green"


def _seed_paints(reopen: Callable[..., DataFlow]) -> None:
    db = reopen()

    @db.model
    class Paint:
        name: str
        shade: Shade

    data = [{"name": "sea", "shade": Shade.BLUE}, {"name": "grass", "shade": Shade.GREEN}]
    data.append({"name": "sky", "shade": Shade.BLUE})
    run_node(db, "PaintBulkCreateNode", {"data": data})
    db.close()


def test_reading_a_value_no_longer_in_the_enum_names_model_field_and_value(reopen: Callable[..., DataFlow]) -> None:
    _seed_paints(reopen)
    db = reopen()

    @db.model
    class Paint:
        name: str
        shade: ShadeWithoutBlue

    error = failure(db, "PaintReadNode", {"id": 1})
    assert isinstance(error, StoredValueError)
    assert (error.model, error.field, error.value) == ("Paint", "shade", "blue")
    assert "Paint.shade" in error.message and "'blue'" in error.message and "ShadeWithoutBlue" in error.message
    assert run_node(db, "PaintReadNode", {"id": 2})["shade"] is ShadeWithoutBlue.GREEN


def test_a_removed_enum_member_is_planned_and_refused_while_rows_hold_it(reopen: Callable[..., DataFlow]) -> None:
    _seed_paints(reopen)
    db = reopen(env="production")

    @db.model
    class Paint:
        name: str
        shade: ShadeWithoutBlue

    plan = db.migration_plan()
    assert [step.describe().partition(":")[0] for step in plan.steps] == ["alter column paint.shade"]
    assert plan.destructive == plan.steps
    with pytest.raises(MigrationError, match=r"refused, 2 existing row\(s\)"):
        db.migrate(allow_destructive=True)
    development = reopen()  # production runs no node while the schema differs

    @development.model
    class Paint:  # type: ignore[no-redef]  # noqa: F811 - the same model, on an instance that can write
        name: str
        shade: ShadeWithoutBlue

    assert run_node(development, "PaintBulkDeleteNode", {"ids": [1, 3]}) == {"deleted": 2}
    development.close()
    assert db.migrate(allow_destructive=True) is not None
    assert db.migration_plan().empty
    assert [r["shade"] for r in records(db, "Paint")] == [ShadeWithoutBlue.GREEN]


def test_an_added_enum_member_is_not_destructive(reopen: Callable[..., DataFlow]) -> None:
    db = reopen()

    @db.model
    class Paint:
        name: str
        shade: ShadeWithoutBlue

    run_node(db, "PaintCreateNode", {"name": "grass", "shade": ShadeWithoutBlue.GREEN})
    db.close()
    db = reopen(env="production")

    @db.model
    class Paint:  # type: ignore[no-redef]  # noqa: F811 - a later version of the model
        name: str
        shade: Shade

    plan = db.migration_plan()
    assert len(plan.steps) <= 1 and not plan.destructive
    db.migrate()
    assert run_node(db, "PaintCreateNode", {"name": "sky", "shade": Shade.BLUE})["shade"] is Shade.BLUE


def test_a_printed_plan_numbers_the_steps_with_their_sql_and_says_what_apply_will_refuse(
    reopen: Callable[..., DataFlow],
) -> None:
    db = reopen()

    @db.model
    class Note:
        title: str
        stars: int
        extra: str | None = None

    run_node(db, "NoteBulkCreateNode", {"data": [{"title": "a", "stars": 1}, {"title": "b", "stars": 2}]})
    db.close()
    db = reopen(env="production")

    @db.model
    class Note:  # type: ignore[no-redef]  # noqa: F811 - a later version of the model
        title: str
        stars: str
        author: str

    plan = db.migration_plan()
    text = str(plan)
    described = {step.describe().split(":")[0].split(" (")[0]: number for number, step in enumerate(plan.steps, 1)}
    author, extra = described["add column note.author"], described["drop column note.extra"]
    stars = plan.steps[described["alter column note.stars"] - 1]
    assert "-> str" not in stars.describe() and "-> " in stars.describe()  # the database's type, not Python's
    for number, step in enumerate(plan.steps, 1):
        marker = "  [DESTRUCTIVE]" if step.destructive else ""
        assert f"{number:>2}. {step.describe()}{marker}\n" in text
    for review in plan.reviews:
        for sql, _ in review.statements:
            assert sql.splitlines()[0] in text
    assert "apply will refuse:" in text
    assert f"step {extra} is destructive" in text and "--allow-destructive" in text
    assert f"step {author} is refused while 2 existing row(s)" in text and "give it a default" in text
    assert "Attribute" not in text and "attrs" not in text


def test_a_unique_field_added_to_a_soft_delete_model_counts_only_live_duplicates(
    reopen: Callable[..., DataFlow],
) -> None:
    db = reopen()

    @db.model
    class Account:
        email: str
        __dataflow__ = {"soft_delete": True}

    for email in ("ann@x", "ann@x", "bob@x"):
        run_node(db, "AccountCreateNode", {"email": email})
    run_node(db, "AccountDeleteNode", {"id": 1})
    db.close()
    db = reopen(env="production")

    @db.model
    class Account:  # type: ignore[no-redef]  # noqa: F811 - a later version of the model
        email: str
        __dataflow__ = {"soft_delete": True, "unique": [("email",)]}

    # MySQL retypes the column to index it (LONGTEXT to VARCHAR(255)): destructive there.
    assert db.migrate(allow_destructive=True) is not None  # the soft-deleted ann@x is no duplicate
    assert db.migration_plan().empty
    db.close()
    db = reopen()

    @db.model
    class Account:  # type: ignore[no-redef]  # noqa: F811 - the same model, on an instance that can write
        email: str
        __dataflow__ = {"soft_delete": True, "unique": [("email",)]}

    assert isinstance(failure(db, "AccountCreateNode", {"email": "ann@x"}), UniqueViolationError)
    run_node(db, "AccountDeleteNode", {"id": 2})
    assert run_node(db, "AccountCreateNode", {"email": "ann@x"})["email"] == "ann@x"
    assert [r["email"] for r in records(db, "Account")] == ["bob@x", "ann@x"]


def test_a_model_that_becomes_soft_delete_keeps_its_unique_fields_unique_among_live_rows(
    reopen: Callable[..., DataFlow],
) -> None:
    db = reopen()

    @db.model
    class Account:
        email: str
        __dataflow__ = {"unique": [("email",)]}

    run_node(db, "AccountCreateNode", {"email": "ann@x"})
    db.close()
    db = reopen(env="production")

    @db.model
    class Account:  # type: ignore[no-redef]  # noqa: F811 - a later version of the model
        email: str
        __dataflow__ = {"unique": [("email",)], "soft_delete": True}

    assert db.migrate() is not None
    assert db.migration_plan().empty
    db.close()
    db = reopen()

    @db.model
    class Account:  # type: ignore[no-redef]  # noqa: F811 - the same model, on an instance that can write
        email: str
        __dataflow__ = {"unique": [("email",)], "soft_delete": True}

    assert isinstance(failure(db, "AccountCreateNode", {"email": "ann@x"}), UniqueViolationError)
    run_node(db, "AccountDeleteNode", {"id": 1})
    assert run_node(db, "AccountCreateNode", {"email": "ann@x"})["email"] == "ann@x"


def test_development_adds_the_timestamps_a_model_turns_on_to_a_table_with_rows(
    reopen: Callable[..., DataFlow],
) -> None:
    _seed_notes(reopen)
    db = reopen()

    @db.model
    class Note:
        title: str
        __dataflow__ = {"timestamps": True}

    old = records(db, "Note")
    assert [r["title"] for r in old] == ["a", "b"]
    assert all(r["created_at"] is not None and r["updated_at"] is not None for r in old)
    created = run_node(db, "NoteCreateNode", {"title": "c"})
    assert created["created_at"] >= old[0]["created_at"]


def test_development_adds_a_new_required_column_to_a_table_without_rows(reopen: Callable[..., DataFlow]) -> None:
    db = reopen()

    @db.model
    class Note:
        title: str

    run_node(db, "NoteCountNode", {})
    db.close()
    db = reopen()

    @db.model
    class Note:  # type: ignore[no-redef]  # noqa: F811 - a later version of the model
        title: str
        author: str

    assert run_node(db, "NoteCreateNode", {"title": "c", "author": "ann"})["author"] == "ann"
    assert db.migration_plan().empty


def test_text_narrowed_to_int_is_refused_with_the_count_while_a_row_holds_text_that_is_no_number(
    reopen: Callable[..., DataFlow],
) -> None:
    db = reopen()

    @db.model
    class Item:
        code: str

    run_node(db, "ItemBulkCreateNode", {"data": [{"code": "7"}, {"code": "x7"}, {"code": "12"}]})
    db.close()
    db = reopen(env="production")

    @db.model
    class Item:  # type: ignore[no-redef]  # noqa: F811 - a later version of the model
        code: int

    assert "step 1 is refused while 1 existing row(s)" in str(db.migration_plan())
    with pytest.raises(MigrationError, match=r"refused, 1 existing row\(s\)"):
        db.migrate(allow_destructive=True)
    development = reopen()

    @development.model
    class Item:  # type: ignore[no-redef]  # noqa: F811 - the old model, to fix the row
        code: str

    run_node(development, "ItemUpdateNode", {"id": 2, "fields": {"code": "8"}})
    development.close()
    assert db.migrate(allow_destructive=True) is not None
    db.close()
    db = reopen()

    @db.model
    class Item:  # type: ignore[no-redef]  # noqa: F811 - the new model
        code: int

    assert [r["code"] for r in records(db, "Item")] == [7, 8, 12]
