"""SQLite's bulk upsert stages the rows in a temporary table and upserts from it in one statement.

What must hold as it did with one upsert per row: the values and their types,
the counts, the version increments, an error naming what failed with nothing
written, and no rows left behind in the staging table.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dataflow import DataFlow, WorkflowError
from dataflow.errors import ForeignKeyViolationError, UniqueViolationError
from dataflow.loops import run_sync
from dataflow.testing.helpers import run_node


@pytest.fixture
def db(tmp_path: Path) -> Any:
    db = DataFlow(f"sqlite:///{tmp_path / 'upsert.db'}", pool_size=1)  # one connection: its staging tables are seen

    @db.model
    class Team:
        name: str

    @db.model
    class Item:
        sku: str
        label: str
        price: Decimal
        weight: float
        active: bool
        seen: dt.datetime
        tags: list[str]
        blob: bytes | None = None
        team_id: Team | None = None
        __dataflow__ = {"unique": [("sku",), ("label",)], "versioned": True}

    yield db
    db.close()


def item(i: int, **changes: Any) -> dict[str, Any]:
    row = {
        "sku": f"s{i}",
        "label": f"label {i}",
        "price": Decimal(f"{i}.10"),
        "weight": i / 4,
        "active": i % 2 == 0,
        "seen": dt.datetime(2026, 1, 1, 12, i % 60, tzinfo=dt.UTC),
        "tags": [f"t{i}"],
        "blob": bytes([i % 256]),
    }
    return {**row, **changes}


def staged_rows(db: DataFlow) -> int:
    """Rows in the connection's staging tables (temporary: seen only on the pool's connection)."""

    async def count() -> int:
        session = await db.open_session()
        try:
            names = await session.fetch("SELECT name FROM temp.sqlite_master WHERE type = 'table'")
            total = 0
            for (name,) in names:
                total += (await session.fetch(f'SELECT COUNT(*) FROM temp."{name}"'))[0][0]
            return total
        finally:
            await db.close_session(session)

    return run_sync(count)


def test_values_of_every_kind_come_back_as_written_and_the_counts_are_exact(db: DataFlow) -> None:
    run_node(db, "ItemBulkCreateNode", {"data": [item(i) for i in range(4)]})
    upserted = [item(i, weight=i + 0.5, active=True) for i in range(2, 6)]
    result = run_node(db, "ItemBulkUpsertNode", {"data": upserted, "conflict_on": ["sku"]})
    assert result == {"inserted": 2, "updated": 2}
    records = run_node(db, "ItemListNode", {"order_by": ["sku"], "limit": 10})["records"]
    by_sku = {r["sku"]: r for r in records}
    for row in upserted:
        stored = by_sku[row["sku"]]
        assert {k: stored[k] for k in row} == row
        assert type(stored["price"]) is Decimal and type(stored["active"]) is bool
    assert by_sku["s2"]["version"] == 2 and by_sku["s5"]["version"] == 1  # updated rows counted a version up
    assert by_sku["s0"]["weight"] == 0.0 and len(records) == 6
    assert staged_rows(db) == 0


def test_a_conflict_on_another_unique_field_names_it_and_writes_nothing(db: DataFlow) -> None:
    run_node(db, "ItemBulkCreateNode", {"data": [item(0), item(1)]})
    clash = [item(7), item(8, label="label 0")]  # s8 is new, but its label is s0's
    with pytest.raises(WorkflowError) as caught:
        run_node(db, "ItemBulkUpsertNode", {"data": clash, "conflict_on": ["sku"]})
    assert isinstance(caught.value.cause, UniqueViolationError)
    assert tuple(caught.value.cause.fields) == ("label",)
    assert [r["sku"] for r in run_node(db, "ItemListNode", {"order_by": ["sku"]})["records"]] == ["s0", "s1"]
    assert staged_rows(db) == 0


def test_a_missing_parent_is_a_foreign_key_error_and_writes_nothing(db: DataFlow) -> None:
    with pytest.raises(WorkflowError) as caught:
        run_node(db, "ItemBulkUpsertNode", {"data": [item(1), item(2, team_id=99)], "conflict_on": ["sku"]})
    assert isinstance(caught.value.cause, ForeignKeyViolationError)
    assert run_node(db, "ItemCountNode", {})["count"] == 0
    assert staged_rows(db) == 0


def test_upserts_of_different_widths_use_their_own_staging_tables(db: DataFlow, tmp_path: Path) -> None:
    narrow = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    assert run_node(db, "TeamBulkUpsertNode", {"data": narrow, "conflict_on": ["id"]}) == {"inserted": 2, "updated": 0}
    run_node(db, "ItemBulkUpsertNode", {"data": [item(1)], "conflict_on": ["sku"]})
    assert run_node(db, "TeamCountNode", {})["count"] == 2
    with sqlite3.connect(tmp_path / "upsert.db") as raw:  # the staging tables are temporary: not in the file
        assert raw.execute("SELECT name FROM sqlite_master WHERE name LIKE 'dataflow_upsert%'").fetchall() == []
