"""Results parse each distinct column description once per connection; what comes back never changes by it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from mysql_helpers import open_db

from dataflow import DataFlow
from dataflow_mysql.results import DESCRIPTIONS_KEPT


@pytest.fixture
def db(dataflow_database_url: str) -> Iterator[DataFlow]:
    db = open_db(dataflow_database_url, pool_size=1)  # one connection: every statement meets the same cache
    yield db
    db.close()


def test_the_same_query_after_a_column_changed_type_reads_the_new_type(db: DataFlow) -> None:
    async def main() -> list[list[tuple[object, ...]]]:
        session = await db.open_session()
        try:
            await session.execute("CREATE TABLE t (v INT, w VARCHAR(10))")
            await session.execute("INSERT INTO t VALUES (7, 'x')")
            first = await session.fetch("SELECT v, w FROM t")
            again = await session.fetch("SELECT v, w FROM t")  # the descriptions now come from the cache
            await session.execute("UPDATE t SET w = '2026-01-02'")
            await session.execute("ALTER TABLE t MODIFY v DECIMAL(5, 2), MODIFY w DATE")
            changed = await session.fetch("SELECT v, w FROM t")
            return [first, again, changed]
        finally:
            await db.close_session(session)

    first, again, changed = asyncio.run(main())
    assert first == again == [(7, "x")]
    assert changed == [(Decimal("7.00"), dt.date(2026, 1, 2))]


def test_column_names_of_a_repeated_query_are_its_own(db: DataFlow) -> None:
    async def main() -> list[tuple[list[str], list[object]]]:
        session = await db.open_session()
        try:
            return [await session.fetch_named(sql) for sql in ("SELECT 1 AS a, 'b' AS b", "SELECT 2 AS b, 'a' AS a")]
        finally:
            await db.close_session(session)

    assert asyncio.run(main()) == [(["a", "b"], [(1, "b")]), (["b", "a"], [(2, "a")])]


def test_a_connection_keeps_a_bounded_number_of_descriptions(db: DataFlow) -> None:
    async def main() -> tuple[int, list[object]]:
        session = await db.open_session()
        try:
            values = [(await session.fetch(f"SELECT {i} AS c{i}"))[0][0] for i in range(DESCRIPTIONS_KEPT + 10)]
            raw = session.connection.raw  # type: ignore[attr-defined]
            return len(raw.descriptions), values
        finally:
            await db.close_session(session)

    kept, values = asyncio.run(main())
    assert values == list(range(DESCRIPTIONS_KEPT + 10))
    assert 0 < kept <= DESCRIPTIONS_KEPT
