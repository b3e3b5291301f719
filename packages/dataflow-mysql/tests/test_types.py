"""Values of every kind, stored on the real server and read back; what MySQL cannot hold is refused first."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from mysql_helpers import open_db, statement_log

from dataflow import DataFlow, MaxLength, ValidationError
from dataflow.testing.helpers import Color, Priority, count, define_kinds, failure, run_node


@pytest.fixture
def db(dataflow_database_url: str) -> Iterator[DataFlow]:
    instance = open_db(dataflow_database_url)
    yield instance
    instance.close()


def kinds(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "text": "ünï 😀 'q' \"dq\" \\ % _ \x01 \n",  # NUL is refused on every backend (docs/nodes.md)
        "number": -(2**63),
        "real": -1.5e-300,
        "flag": False,
        "blob": bytes(range(256)),
        "amount": decimal.Decimal("-" + "9" * 35 + "." + "9" * 30),
        "moment": dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=13))),
        "day": dt.date(1, 1, 1),
        "clock": dt.time(0, 0, 0, 1),
        "ident": uuid.uuid4(),
        "doc": {"nested": {"list": [1, 2.5, None, True, "ü"]}, "": 0},
        "items": [[], {}, "x" * 1000],
        "color": Color.RED,
        "priority": Priority.LOW,
        "note": "n",
    }
    record.update(overrides)
    return record


def test_extreme_values_of_every_kind_round_trip(db: DataFlow) -> None:
    define_kinds(db)
    record = kinds()
    created = run_node(db, "KindsCreateNode", record)
    read = run_node(db, "KindsReadNode", {"id": created["id"]})
    expected = {**record, "moment": record["moment"].astimezone(dt.UTC)}
    for name, value in expected.items():
        assert read[name] == value, name
        assert type(read[name]) is type(value), name
    assert read["moment"].tzinfo == dt.UTC


def test_naive_datetimes_are_taken_as_utc(db: DataFlow) -> None:
    define_kinds(db)
    created = run_node(db, "KindsCreateNode", kinds(moment=dt.datetime(2026, 1, 2, 3, 4, 5)))
    assert created["moment"] == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_values_come_back_the_same_through_list_and_bulk(db: DataFlow) -> None:
    define_kinds(db)
    rows = [kinds(number=i, note=None if i % 2 else "x") for i in range(5)]
    assert run_node(db, "KindsBulkCreateNode", {"data": rows}) == {"inserted": 5}
    listed = run_node(db, "KindsListNode", {"order_by": ["number"]})["records"]
    for row, record in zip(rows, listed, strict=True):
        assert record["blob"] == row["blob"] and record["doc"] == row["doc"] and record["note"] == row["note"]
        assert record["amount"] == row["amount"] and record["ident"] == row["ident"]


def test_decimal_that_does_not_fit_is_refused_before_sql(db: DataFlow) -> None:
    define_kinds(db)
    for amount in (decimal.Decimal("1" + "0" * 35), decimal.Decimal("0." + "0" * 30 + "1")):
        error = failure(db, "KindsCreateNode", kinds(amount=amount))
        assert isinstance(error, ValidationError) and error.field == "amount"
    assert count(db, "Kinds") == 0


def test_nan_and_infinity_are_refused_before_sql(db: DataFlow) -> None:
    define_kinds(db)
    for real in (float("nan"), float("inf")):
        error = failure(db, "KindsCreateNode", kinds(real=real))
        assert isinstance(error, ValidationError) and error.field == "real"
    error = failure(db, "KindsBulkCreateNode", {"data": [kinds(), kinds(real=float("-inf"))]})
    assert isinstance(error, ValidationError) and "data[1]" in str(error)
    assert count(db, "Kinds") == 0


def test_a_string_longer_than_max_length_never_reaches_the_server(dataflow_database_url: str) -> None:
    with statement_log() as log:
        db = open_db(dataflow_database_url)
        try:

            @db.model
            class Tag:
                label: Annotated[str, MaxLength(5)]

            db.create_tables()
            before = len(log.statements)
            error = failure(db, "TagCreateNode", {"label": "toolong"})
            assert isinstance(error, ValidationError) and error.field == "label" and "max_length" in str(error)
            error = failure(db, "TagBulkCreateNode", {"data": [{"label": "ok"}, {"label": "toolong"}]})
            assert isinstance(error, ValidationError) and error.field == "label"
            assert not any("INSERT" in sql for sql in log.statements[before:])
            assert count(db, "Tag") == 0
        finally:
            db.close()


def test_a_unique_str_without_max_length_holds_255_characters(db: DataFlow) -> None:
    @db.model
    class Account:
        login: str
        __dataflow__ = {"unique": [("login",)]}

    assert run_node(db, "AccountCreateNode", {"login": "é" * 255})["login"] == "é" * 255
    error = failure(db, "AccountCreateNode", {"login": "x" * 256})
    assert isinstance(error, ValidationError) and error.field == "login"
    assert count(db, "Account") == 1


def test_like_is_case_sensitive_and_ilike_is_not(db: DataFlow) -> None:
    @db.model
    class Word:
        text: Annotated[str, MaxLength(50)]

    words = ("Apple", "apple", "APPLE", "50% off", "50 off", "a_b", "axb", "back\\slash", "backslash")
    run_node(db, "WordBulkCreateNode", {"data": [{"text": t} for t in words]})

    def matching(filter: dict[str, Any]) -> list[str]:
        return sorted(r["text"] for r in run_node(db, "WordListNode", {"filter": filter})["records"])

    assert matching({"text": {"$like": "app%"}}) == ["apple"]
    assert matching({"text": {"$ilike": "app%"}}) == ["APPLE", "Apple", "apple"]
    assert matching({"text": "apple"}) == ["apple"]  # equality is exact too
    # Only % and _ are wildcards; a backslash is an ordinary character, as on PostgreSQL and SQLite.
    assert matching({"text": {"$like": "50%"}}) == ["50 off", "50% off"]
    assert matching({"text": {"$like": "a_b"}}) == ["a_b", "axb"]
    assert matching({"text": {"$like": "back\\slash"}}) == ["back\\slash"]
    assert matching({"text": {"$ilike": "BACK\\%"}}) == ["back\\slash"]


def test_a_long_text_of_every_escaped_character_round_trips(db: DataFlow) -> None:
    """Long texts are escaped by replaces, not str.translate; what is stored is what was given."""

    @db.model
    class Page:
        body: str

    body = "\\'\"\n\r\x1a\\\\n ü 😀 % " * 20_000
    created = run_node(db, "PageCreateNode", {"body": body})
    assert run_node(db, "PageReadNode", {"id": created["id"]})["body"] == body


def test_trailing_spaces_are_significant(db: DataFlow) -> None:
    @db.model
    class Code:
        value: Annotated[str, MaxLength(10)]
        __dataflow__ = {"unique": [("value",)]}

    run_node(db, "CodeBulkCreateNode", {"data": [{"value": "a"}, {"value": "a "}]})
    assert run_node(db, "CodeCountNode", {"filter": {"value": "a"}}) == {"count": 1}


def test_string_and_uuid_keys_with_foreign_keys(db: DataFlow) -> None:
    @db.model
    class Country:
        code: Annotated[str, MaxLength(2)]
        __dataflow__ = {"primary_key": "code"}

    @db.model
    class City:
        id: uuid.UUID
        name: str
        country: Country

    run_node(db, "CountryCreateNode", {"code": "NZ"})
    key = uuid.uuid4()
    city = run_node(db, "CityCreateNode", {"id": key, "name": "Wellington", "country": "NZ"})
    assert city == {"id": key, "name": "Wellington", "country": "NZ"}
    assert run_node(db, "CityListNode", {"filter": {"id": {"$in": [str(key)]}}})["count"] == 1
