"""Helpers for migration tests: the live schema as a dialect's introspector reads it, and small models.

The compliance suite's migration tests use them; a dialect's own ``tests/test_migrate.py`` may too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from ..database import DataFlow
from ..fields import MaxLength
from ..loops import run_sync
from ..migrate.live import LiveTable
from .helpers import run_node

Reopen = Callable[..., DataFlow]
"""The ``reopen`` fixture: ``reopen(**options)`` opens another DataFlow on the test database."""


def live(db: DataFlow) -> dict[str, LiveTable]:
    """The schema as the dialect's introspector reads it (the migrations' history table left out)."""

    async def read() -> dict[str, LiveTable]:
        async with db.migrator.session() as session:
            return await db.migrator.live(session)

    return run_sync(read, cleanup=db.close_loop)


def live_table(db: DataFlow, name: str) -> LiveTable:
    tables = live(db)
    assert name in tables, f"no table {name!r} in {sorted(tables)}"
    return tables[name]


def nullability(db: DataFlow, name: str) -> dict[str, bool]:
    return {c.name: c.nullable for c in live_table(db, name).columns}


def indexes(db: DataFlow, name: str) -> set[tuple[tuple[str, ...], bool]]:
    """``(columns, unique)`` of each index a model can describe (primary keys are not listed)."""
    return {(i.columns, i.unique) for i in live_table(db, name).indexes}


def foreign_keys(db: DataFlow, name: str) -> set[tuple[tuple[str, ...], str, tuple[str, ...]]]:
    return {(k.columns, k.table, k.ref_columns) for k in live_table(db, name).foreign_keys}


def planned(db: DataFlow, renames: tuple[str, ...] = ()) -> list[str]:
    return [step.describe() for step in db.migration_plan(renames).steps]


def history(db: DataFlow) -> list[dict[str, Any]]:
    return run_sync(db.migrator.history, cleanup=db.close_loop)


def person(db: DataFlow) -> None:
    """The first version of Person: a nullable nickname and an index on name."""

    @db.model
    class Person:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(100)]
        nickname: Annotated[str, MaxLength(100)] | None = None
        __dataflow__ = {"indexes": [("name",)]}


def seed_people(reopen: Reopen, rows: int = 5) -> None:
    db = reopen(env="production")
    person(db)
    db.migrate()
    run_node(db, "PersonBulkCreateNode", {"data": [{"name": f"p{i}", "email": f"{i}@x"} for i in range(rows)]})
    db.close()


def team_and_member(db: DataFlow, *, keyed: bool) -> None:
    @db.model
    class Team:
        name: Annotated[str, MaxLength(100)]

    if keyed:

        @db.model
        class Member:
            name: Annotated[str, MaxLength(100)]
            team_id: Team | None = None

    else:

        @db.model
        class Member:  # type: ignore[no-redef]
            name: Annotated[str, MaxLength(100)]
            team_id: int | None = None


def seed_members(reopen: Reopen, team_ids: list[int | None]) -> None:
    db = reopen(env="production")
    team_and_member(db, keyed=False)
    db.migrate()
    run_node(db, "TeamBulkCreateNode", {"data": [{"name": "t1"}, {"name": "t2"}]})
    run_node(db, "MemberBulkCreateNode", {"data": [{"name": f"m{i}", "team_id": t} for i, t in enumerate(team_ids)]})
    db.close()
