"""Every field kind comes back as its Python type, on every dialect."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from ...database import DataFlow
from ..helpers import Color, Priority, define_kinds, run_node


def kinds_record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "text": "héllo ✓ 'quoted' \\ back",
        "number": 2**53 + 1,
        "real": 3.25,
        "flag": True,
        "blob": b"\x00\x01binary\xff",
        "amount": decimal.Decimal("12345.6789"),
        "moment": dt.datetime(2026, 11, 26, 17, 30, 5, 123456, tzinfo=dt.UTC),
        "day": dt.date(2026, 2, 28),
        "clock": dt.time(23, 59, 58, 500000),
        "ident": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "doc": {"a": [1, 2, {"b": None}], "ü": "x"},
        "items": [1, "two", 3.5, False],
        "color": Color.GREEN,
        "priority": Priority.HIGH,
    }
    record.update(overrides)
    return record


def test_every_kind_round_trips_through_create_and_read(db: DataFlow) -> None:
    define_kinds(db)
    created = run_node(db, "KindsCreateNode", kinds_record())
    read = run_node(db, "KindsReadNode", {"id": created["id"]})
    expected = kinds_record(note=None)
    for name, value in expected.items():
        assert read[name] == value, name
        assert type(read[name]) is type(value), name
    assert created == read


def test_false_and_zero_values_round_trip(db: DataFlow) -> None:
    define_kinds(db)
    record = kinds_record(
        flag=False, number=0, real=0.0, amount=decimal.Decimal("0"), text="", blob=b"", doc={}, items=[]
    )
    created = run_node(db, "KindsCreateNode", record)
    read = run_node(db, "KindsReadNode", {"id": created["id"]})
    assert read["flag"] is False
    assert read["number"] == 0 and read["text"] == "" and read["blob"] == b""
    assert read["doc"] == {} and read["items"] == []


def test_values_given_as_strings_are_parsed_to_their_kind(db: DataFlow) -> None:
    define_kinds(db)
    record = kinds_record(
        moment="2026-01-02T03:04:05+00:00",
        day="2026-01-02",
        clock="03:04:05",
        ident=str(uuid.UUID(int=7)),
        amount="1.50",
        color="red",
        priority=1,
    )
    created = run_node(db, "KindsCreateNode", record)
    assert created["moment"] == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert created["day"] == dt.date(2026, 1, 2)
    assert created["ident"] == uuid.UUID(int=7)
    assert created["amount"] == decimal.Decimal("1.50")
    assert created["color"] is Color.RED and created["priority"] is Priority.LOW


def test_string_primary_key(db: DataFlow) -> None:
    @db.model
    class Country:
        code: str
        name: str
        __dataflow__ = {"primary_key": "code"}

    created = run_node(db, "CountryCreateNode", {"code": "NZ", "name": "New Zealand"})
    assert created == {"code": "NZ", "name": "New Zealand"}
    assert run_node(db, "CountryReadNode", {"id": "NZ"})["name"] == "New Zealand"
    updated = run_node(db, "CountryUpdateNode", {"id": "NZ", "fields": {"name": "Aotearoa"}})
    assert updated["name"] == "Aotearoa"
    assert run_node(db, "CountryDeleteNode", {"id": "NZ"}) == {"deleted": 1}


def test_uuid_primary_key(db: DataFlow) -> None:
    @db.model
    class Token:
        id: uuid.UUID
        label: str

    key = uuid.uuid4()
    run_node(db, "TokenCreateNode", {"id": key, "label": "a"})
    assert run_node(db, "TokenReadNode", {"id": str(key)})["id"] == key


def test_decimals_compare_and_sort_as_numbers(db: DataFlow) -> None:
    @db.model
    class Price:
        amount: decimal.Decimal

    for text in ["9.5", "10.25", "100", "-3"]:
        run_node(db, "PriceCreateNode", {"amount": decimal.Decimal(text)})
    listed = run_node(db, "PriceListNode", {"filter": {"amount": {"$gt": "9.75"}}, "order_by": ["amount"]})
    assert [r["amount"] for r in listed["records"]] == [decimal.Decimal("10.25"), decimal.Decimal("100")]
    ordered = run_node(db, "PriceListNode", {"order_by": ["-amount"]})
    assert [str(r["amount"]) for r in ordered["records"]] == ["100", "10.25", "9.5", "-3"]


def test_datetimes_compare_as_instants(db: DataFlow) -> None:
    @db.model
    class Event:
        at: dt.datetime

    utc = dt.UTC
    for hour in (1, 5, 23):
        run_node(db, "EventCreateNode", {"at": dt.datetime(2026, 1, 1, hour, tzinfo=utc)})
    after = run_node(db, "EventCountNode", {"filter": {"at": {"$gte": dt.datetime(2026, 1, 1, 5, tzinfo=utc)}}})
    assert after == {"count": 2}
