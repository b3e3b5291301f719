"""Column types and value round trips on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from pg_testing import fetch, run_node

from dataflow import CheckViolationError, DataFlow, MaxLength, ValidationError, WorkflowError
from dataflow.fields import Array
from dataflow.testing.helpers import define_kinds
from dataflow_postgres import PostgresDialect


class Size(enum.Enum):
    SMALL = "s"
    QUOTED = "it's"


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


@pytest.fixture
def db(dataflow_database_url: str) -> Iterator[DataFlow]:
    instance = DataFlow(dataflow_database_url)
    yield instance
    instance.close()


def postgres(db: DataFlow) -> PostgresDialect:
    assert isinstance(db.dialect, PostgresDialect)
    return db.dialect


def every_kind(i: int) -> dict[str, Any]:
    return {
        "text": f"text {i} 'q' \\ é",
        "number": 2**62 + i,
        "real": i + 0.25,
        "flag": i % 2 == 0,
        "blob": bytes([i % 256, 0, 255]),
        "amount": decimal.Decimal(f"{i}.0100"),
        "moment": dt.datetime(2026, 1, 1, 12, 0, i % 60, 123456, tzinfo=dt.UTC),
        "day": dt.date(2026, 3, 1 + i % 28),
        "clock": dt.time(1, 2, i % 60, 999999),
        "ident": uuid.UUID(int=i + 1),
        "doc": {"i": i, "nested": {"list": [1, None, "x"]}},
        "items": [i, "two"],
        "color": "red" if i % 2 else "green",
        "priority": 1 + i % 2,
        "note": None if i % 3 else f"note {i}",
    }


def test_column_types(db: DataFlow) -> None:
    define_kinds(db)
    run_node(db, "KindsCountNode")
    rows = fetch(
        db.label,
        "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
        "WHERE table_schema = $1 AND table_name = 'kinds'",
        postgres(db).options.schema,
    )
    types = {row[0]: (row[1], row[2]) for row in rows}
    assert types == {
        "id": ("bigint", None),
        "text": ("character varying", 200),
        "number": ("bigint", None),
        "real": ("double precision", None),
        "flag": ("boolean", None),
        "blob": ("bytea", None),
        "amount": ("numeric", None),
        "moment": ("timestamp with time zone", None),
        "day": ("date", None),
        "clock": ("time without time zone", None),
        "ident": ("uuid", None),
        "doc": ("jsonb", None),
        "items": ("jsonb", None),
        "color": ("text", None),
        "priority": ("bigint", None),
        "note": ("text", None),
    }


@pytest.mark.parametrize("strategy", ["copy", "unnest", "values", "executemany"])
def test_every_kind_round_trips_through_each_create_strategy(db: DataFlow, strategy: str) -> None:
    define_kinds(db)
    data = [every_kind(i) for i in range(7)]
    assert run_node(db, "KindsBulkCreateNode", {"data": data, "strategy": strategy}) == {"inserted": 7}
    stored = run_node(db, "KindsListNode", {"order_by": ["number"]})["records"]
    for record, given in zip(stored, data, strict=True):
        for name in ("text", "number", "real", "flag", "blob", "amount", "moment", "day", "clock", "ident", "doc"):
            assert record[name] == given[name], name
            assert type(record[name]) is type(given[name]), name
        assert record["color"].value == given["color"] and record["priority"].value == given["priority"]
        assert record["note"] == given["note"]


@pytest.mark.parametrize("strategy", ["copy_merge", "unnest", "upsert"])
def test_every_kind_round_trips_through_each_upsert_strategy(db: DataFlow, strategy: str) -> None:
    define_kinds(db)
    data = [{"id": i + 1, **every_kind(i)} for i in range(4)]
    assert run_node(db, "KindsBulkUpsertNode", {"data": data[:2], "strategy": strategy}) == {
        "inserted": 2,
        "updated": 0,
    }
    changed = [{**row, "doc": {"changed": row["id"]}, "clock": dt.time(5, 6, 7)} for row in data]
    assert run_node(db, "KindsBulkUpsertNode", {"data": changed, "strategy": strategy}) == {"inserted": 2, "updated": 2}
    stored = run_node(db, "KindsListNode", {"order_by": ["id"]})["records"]
    assert [r["doc"] for r in stored] == [{"changed": i + 1} for i in range(4)]
    assert [r["moment"] for r in stored] == [d["moment"] for d in data]
    assert {r["clock"] for r in stored} == {dt.time(5, 6, 7)}


def test_naive_datetimes_are_taken_as_utc(db: DataFlow) -> None:
    @db.model
    class Event:
        at: dt.datetime

    created = run_node(db, "EventCreateNode", {"at": dt.datetime(2026, 5, 1, 8, 30)})
    assert created["at"] == dt.datetime(2026, 5, 1, 8, 30, tzinfo=dt.UTC)
    assert created["at"].tzinfo is not None
    other_zone = dt.datetime(2026, 5, 1, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    found = run_node(db, "EventListNode", {"filter": {"at": other_zone}})
    assert found["count"] == 1


def test_time_with_a_zone_is_refused(db: DataFlow) -> None:
    @db.model
    class Alarm:
        clock: dt.time

    with pytest.raises(WorkflowError) as info:
        run_node(db, "AlarmCreateNode", {"clock": dt.time(7, 0, tzinfo=dt.UTC)})
    assert isinstance(info.value.cause, ValidationError) and info.value.cause.field == "clock"
    assert run_node(db, "AlarmCountNode") == {"count": 0}


def test_enum_values_are_checked_by_the_database(db: DataFlow) -> None:
    @db.model
    class Shirt:
        size: Size
        level: Level = Level.LOW

    created = run_node(db, "ShirtCreateNode", {"size": Size.QUOTED})
    assert created["size"] is Size.QUOTED and created["level"] is Level.LOW

    async def insert_raw(value: str) -> BaseException:
        await db.create_tables_async()
        session = await db.open_session()
        try:
            await session.execute(
                'INSERT INTO "shirt" ("size", "level") VALUES ($1, 1)', [value], schema=db.schema("Shirt")
            )
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            return exc
        finally:
            await db.close_session(session)
        raise AssertionError("the CHECK accepted a value outside the enum")

    error = asyncio.run(insert_raw("xl"))
    db.close()
    assert isinstance(error, CheckViolationError)
    assert error.fields == ("size",) and error.model == "Shirt"


def test_nul_in_text_is_a_validation_error_before_any_sql(db: DataFlow) -> None:
    @db.model
    class Note:
        body: str

    with pytest.raises(WorkflowError) as info:
        run_node(db, "NoteCreateNode", {"body": "a\x00b"})
    assert isinstance(info.value.cause, ValidationError) and info.value.cause.field == "body"
    with pytest.raises(WorkflowError) as info:
        run_node(db, "NoteBulkCreateNode", {"data": [{"body": "ok"}, {"body": "\x00"}]})
    assert isinstance(info.value.cause, ValidationError) and "data[1]" in str(info.value.cause)
    assert run_node(db, "NoteCountNode") == {"count": 0}


def test_nul_in_json_is_a_validation_error(db: DataFlow) -> None:
    @db.model
    class Doc:
        body: dict  # type: ignore[type-arg]

    with pytest.raises(WorkflowError) as info:
        run_node(db, "DocCreateNode", {"body": {"k": "a\x00"}})
    assert isinstance(info.value.cause, ValidationError) and info.value.cause.field == "body"


def test_integer_beyond_bigint_is_a_validation_error(db: DataFlow) -> None:
    @db.model
    class Counter:
        value: int

    for strategy in ("copy", "unnest"):
        with pytest.raises(WorkflowError) as info:
            run_node(db, "CounterBulkCreateNode", {"data": [{"value": 1}, {"value": 2**70}], "strategy": strategy})
        assert isinstance(info.value.cause, ValidationError), strategy
    with pytest.raises(WorkflowError) as info:
        run_node(db, "CounterCreateNode", {"value": -(2**64)})
    assert isinstance(info.value.cause, ValidationError)
    assert run_node(db, "CounterCountNode") == {"count": 0}


def test_varchar_limit_is_checked_before_sql(db: DataFlow) -> None:
    @db.model
    class Code:
        value: Annotated[str, MaxLength(3)]

    with pytest.raises(WorkflowError) as info:
        run_node(db, "CodeBulkCreateNode", {"data": [{"value": "abc"}, {"value": "abcd"}], "strategy": "copy"})
    assert isinstance(info.value.cause, ValidationError) and "max_length" in str(info.value.cause)
    assert run_node(db, "CodeCountNode") == {"count": 0}


def define_arrays(db: DataFlow) -> None:
    @db.model
    class Vector:
        sku: str
        counts: Annotated[list[int], Array()]
        names: Annotated[list[str], Array()]
        scores: Annotated[list[float], Array()]
        flags: Annotated[list[bool], Array()] | None = None
        plain: list[int] | None = None
        __dataflow__ = {"unique": [("sku",)]}


def vector(i: int) -> dict[str, Any]:
    return {
        "sku": f"v{i}",
        "counts": [2**62 + i, -i, 0][: 1 + i % 3],
        "names": [f"n{i}", 'it\'s \\ "q" {a,b} NULL', "é", ""][: i % 5],
        "scores": [i + 0.5, -1e300, float("inf")],
        "flags": None if i % 4 == 3 else [i % 2 == 0, True][: i % 3],
        "plain": [i, i + 1],
    }


ARRAY_COLUMNS = ("counts", "names", "scores", "flags", "plain")


def test_array_fields_are_native_array_columns(db: DataFlow) -> None:
    define_arrays(db)
    run_node(db, "VectorCountNode")
    rows = fetch(
        db.label,
        "SELECT column_name, data_type, udt_name FROM information_schema.columns "
        "WHERE table_schema = $1 AND table_name = 'vector'",
        postgres(db).options.schema,
    )
    types = {row[0]: (row[1], row[2]) for row in rows}
    assert types["counts"] == ("ARRAY", "_int8")
    assert types["names"] == ("ARRAY", "_text")
    assert types["scores"] == ("ARRAY", "_float8")
    assert types["flags"] == ("ARRAY", "_bool")
    assert types["plain"] == ("jsonb", "jsonb")  # list[int] without Array() stays JSON
    assert asyncio.run(db.migrator.plan()).empty


def _vectors(db: DataFlow) -> list[dict[str, Any]]:
    records = run_node(db, "VectorListNode", {"order_by": ["sku"], "limit": 1000})["records"]
    return [{k: r[k] for k in ("sku", *ARRAY_COLUMNS)} for r in records]


def test_array_fields_round_trip_through_create_and_read(db: DataFlow) -> None:
    define_arrays(db)
    for i in range(6):
        created = run_node(db, "VectorCreateNode", vector(i))
        read = run_node(db, "VectorReadNode", {"id": created["id"]})
        for name in ARRAY_COLUMNS:
            assert created[name] == vector(i)[name] and read[name] == vector(i)[name], (i, name)
    raw = fetch(db.label, "SELECT counts, names FROM vector WHERE sku = 'v2'")
    assert (raw[0][0], raw[0][1]) == ([2**62 + 2, -2, 0], vector(2)["names"])  # stored as arrays, not JSON text


@pytest.mark.parametrize("strategy", ["copy", "values", "executemany", None])
def test_array_fields_round_trip_through_bulk_create(db: DataFlow, strategy: str | None) -> None:
    define_arrays(db)
    data = [vector(i) for i in range(12)]
    params: dict[str, Any] = {"data": data}
    if strategy is not None:
        params["strategy"] = strategy
    assert run_node(db, "VectorBulkCreateNode", params)["inserted"] == 12
    assert _vectors(db) == sorted(data, key=lambda row: row["sku"])


def test_unnest_does_not_take_array_columns(db: DataFlow) -> None:
    define_arrays(db)
    with pytest.raises(WorkflowError) as info:
        run_node(db, "VectorBulkCreateNode", {"data": [vector(1)], "strategy": "unnest"})
    assert isinstance(info.value.cause, ValidationError) and "strategy" in str(info.value.cause)
    with pytest.raises(WorkflowError):
        run_node(db, "VectorBulkUpsertNode", {"data": [vector(1)], "conflict_on": ["sku"], "strategy": "unnest"})
    assert run_node(db, "VectorCountNode") == {"count": 0}


@pytest.mark.parametrize("strategy", ["copy_merge", "upsert", None])
def test_array_fields_round_trip_through_bulk_upsert(db: DataFlow, strategy: str | None) -> None:
    define_arrays(db)
    run_node(db, "VectorBulkCreateNode", {"data": [vector(i) for i in range(0, 10, 2)]})
    changed = [{**vector(i), "counts": [i, i, i], "names": [f"new {i}"]} for i in range(10)]
    params: dict[str, Any] = {"data": changed, "conflict_on": ["sku"]}
    if strategy is not None:
        params["strategy"] = strategy
    result = run_node(db, "VectorBulkUpsertNode", params)
    assert (result["inserted"], result["updated"]) == (5, 5)
    assert _vectors(db) == sorted(changed, key=lambda row: row["sku"])


def test_array_fields_through_bulk_update_and_eq_filter(db: DataFlow) -> None:
    define_arrays(db)
    ids = run_node(db, "VectorBulkCreateNode", {"data": [vector(i) for i in range(4)], "return_ids": True})["ids"]
    run_node(db, "VectorBulkUpdateNode", {"data": [{"id": ids[1], "counts": [7, 8]}, {"id": ids[2], "counts": []}]})
    assert run_node(db, "VectorReadNode", {"id": ids[1]})["counts"] == [7, 8]
    assert run_node(db, "VectorReadNode", {"id": ids[2]})["counts"] == []
    found = run_node(db, "VectorListNode", {"filter": {"counts": [7, 8]}})["records"]
    assert [r["sku"] for r in found] == ["v1"]
    found = run_node(db, "VectorListNode", {"filter": {"counts": {"$eq": []}}})["records"]
    assert [r["sku"] for r in found] == ["v2"]
    found = run_node(db, "VectorListNode", {"filter": {"names": {"$in": [["n3", 'it\'s \\ "q" {a,b} NULL', "é"]]}}})
    assert [r["sku"] for r in found["records"]] == ["v3"]
    assert run_node(db, "VectorListNode", {"filter": {"counts": [8, 7]}})["records"] == []


TRICKY_NAME = 'it\'s \\ "q" {a,b} NULL'


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"names": {"$contains": [TRICKY_NAME]}}, ["v2", "v3", "v4"]),
        ({"names": {"$contains": [TRICKY_NAME, ""]}}, ["v4"]),
        ({"names": {"$overlaps": ["é", "n1"]}}, ["v1", "v3", "v4"]),
        ({"counts": {"$contains": [0]}}, ["v2"]),
        ({"counts": {"$overlaps": [-1, -2, 2**62 + 4]}}, ["v1", "v2", "v4"]),
        ({"flags": {"$contains": [True]}}, ["v2", "v4"]),
        ({"flags": {"$overlaps": [False]}}, ["v1"]),
        ({"flags": {"$contains": []}}, ["v0", "v1", "v2", "v4"]),
        ({"scores": {"$contains": [float("inf"), -1e300]}}, ["v0", "v1", "v2", "v3", "v4"]),
        ({"scores": {"$overlaps": [2.5, 3.5]}}, ["v2", "v3"]),
        ({"plain": {"$contains": [1]}}, ["v0", "v1"]),
        ({"plain": {"$overlaps": [4, 5]}}, ["v3", "v4"]),
    ],
)
def test_array_element_filters_on_native_arrays(db: DataFlow, filter: dict[str, Any], expected: list[str]) -> None:
    define_arrays(db)
    run_node(db, "VectorBulkCreateNode", {"data": [vector(i) for i in range(5)]})
    found = run_node(db, "VectorListNode", {"filter": filter, "order_by": ["sku"]})["records"]
    assert [r["sku"] for r in found] == expected


def test_a_nul_in_an_array_element_filter_is_a_validation_error(db: DataFlow) -> None:
    define_arrays(db)
    with pytest.raises(WorkflowError) as info:
        run_node(db, "VectorListNode", {"filter": {"names": {"$contains": ["a\x00b"]}}})
    assert isinstance(info.value.cause, ValidationError) and info.value.cause.field == "names"


def test_wrong_array_element_is_a_validation_error_before_sql(db: DataFlow) -> None:
    define_arrays(db)
    run_node(db, "VectorCreateNode", vector(0))
    before = _vectors(db)
    bad = [
        {**vector(1), "counts": [1, True]},
        {**vector(1), "names": ["a", 2]},
        {**vector(1), "scores": [1.0, "x"]},
        {**vector(1), "flags": [True, 0]},
        {**vector(1), "names": ["a\x00b"]},
    ]
    for row in bad:
        with pytest.raises(WorkflowError) as info:
            run_node(db, "VectorCreateNode", row)
        assert isinstance(info.value.cause, ValidationError), row
        for strategy in ("copy", "values", "executemany"):
            data = [vector(2), row]
            with pytest.raises(WorkflowError) as info:
                run_node(db, "VectorBulkCreateNode", {"data": data, "strategy": strategy})
            assert isinstance(info.value.cause, ValidationError), (row, strategy)
            assert "data[1]" in str(info.value.cause)
        with pytest.raises(WorkflowError) as info:
            run_node(db, "VectorBulkUpsertNode", {"data": [vector(3), row], "conflict_on": ["sku"]})
        assert isinstance(info.value.cause, ValidationError)
    with pytest.raises(WorkflowError) as info:
        run_node(db, "VectorCreateNode", {**vector(1), "counts": [1, False]})
    assert "counts[1]" in str(info.value.cause)
    assert _vectors(db) == before
