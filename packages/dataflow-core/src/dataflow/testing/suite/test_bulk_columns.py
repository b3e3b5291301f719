"""Bulk rows checked a column at a time give the same values and the same errors as row by row.

Uniform rows (every row a dict with the same keys, plain values) take the
column path; one odd value must send them to the per-row path, which either
converts it as a single Create would or raises the error naming its row.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from typing import Annotated, Any

import pytest

from ...database import DataFlow
from ...errors import ValidationError
from ...fields import MaxLength
from ..helpers import count, failure, records, run_node

ROWS = 40


def define_readings(db: DataFlow) -> None:
    @db.model
    class Reading:
        sensor: Annotated[str, MaxLength(20)]
        value: float
        count: int
        valid: bool = True
        note: str | None = None
        level: int = 3
        __dataflow__ = {"unique": [("sensor",)]}


@pytest.fixture
def readings(db: DataFlow) -> DataFlow:
    define_readings(db)
    return db


def uniform(n: int = ROWS) -> list[dict[str, Any]]:
    """Rows with the same keys and plain values: the column path's input."""
    return [{"sensor": f"s{i}", "value": i / 4, "count": i, "valid": i % 2 == 0} for i in range(n)]


class Small(enum.IntEnum):
    ONE = 1


class Text(str):
    pass


def _refused(db: DataFlow, node: str, params: dict[str, Any], field: str, row: int) -> ValidationError:
    error = failure(db, node, params)
    assert isinstance(error, ValidationError), repr(error)
    assert error.field == field, (error.field, str(error))
    assert f"data[{row}]" in str(error), str(error)
    return error


def test_uniform_rows_are_stored_with_the_defaults_of_the_fields_they_leave_out(readings: DataFlow) -> None:
    assert run_node(readings, "ReadingBulkCreateNode", {"data": uniform()}) == {"inserted": ROWS}
    stored = records(readings, "Reading")
    assert [(r["sensor"], r["value"], r["count"], r["valid"]) for r in stored] == [
        (f"s{i}", i / 4, i, i % 2 == 0) for i in range(ROWS)
    ]
    assert {r["note"] for r in stored} == {None} and {r["level"] for r in stored} == {3}
    assert all(type(r["valid"]) is bool and type(r["count"]) is int for r in stored)


def test_a_default_copied_for_every_row_is_given_to_every_row(db: DataFlow) -> None:
    @db.model
    class Probe:
        sensor: str
        meta: dict = {"unit": "C"}  # type: ignore[type-arg]  # copied for each row: not one shared value

    run_node(db, "ProbeBulkCreateNode", {"data": [{"sensor": f"p{i}"} for i in range(ROWS)]})
    assert [r["meta"] for r in records(db, "Probe")] == [{"unit": "C"}] * ROWS


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("count", True, "expects int"),
        ("count", 2.0, "expects int"),
        ("count", "7", "expects int"),
        ("count", 2**63, "64-bit"),
        ("valid", 1, "expects bool"),
        ("value", math.nan, "finite"),
        ("value", "1.5", "expects float"),
        ("sensor", None, "cannot be null"),
        ("sensor", "x" * 21, "max_length"),
        ("sensor", "a\x00b", "NUL"),
        ("sensor", b"bytes", "expects str"),
    ],
)
def test_one_odd_value_among_uniform_rows_is_the_error_of_its_row(
    readings: DataFlow, field: str, value: Any, message: str
) -> None:
    for node in ("ReadingBulkCreateNode", "ReadingBulkUpsertNode"):
        data = uniform()
        data[29][field] = value
        data[33][field] = value  # the first bad row is the one named
        params: dict[str, Any] = {"data": data}
        if node == "ReadingBulkUpsertNode":
            params["conflict_on"] = ["sensor"]
            if field == "sensor":
                data[33]["sensor"] = "s33"  # a repeated key would be its own error
        error = _refused(readings, node, params, field, 29)
        assert message in str(error), str(error)
    assert count(readings, "Reading") == 0


def test_a_nullable_field_given_none_in_uniform_rows_is_stored_as_null(readings: DataFlow) -> None:
    data = [{**row, "note": None if i % 3 else f"n{i}"} for i, row in enumerate(uniform())]
    run_node(readings, "ReadingBulkCreateNode", {"data": data})
    assert [r["note"] for r in records(readings, "Reading")] == [None if i % 3 else f"n{i}" for i in range(ROWS)]


def test_subclasses_of_plain_types_are_stored_as_the_plain_type(readings: DataFlow) -> None:
    data = uniform()
    data[5]["count"] = Small.ONE
    data[6]["sensor"] = Text("sub")
    data[7]["value"] = 4  # an int in a float field is a float
    run_node(readings, "ReadingBulkCreateNode", {"data": data})
    stored = records(readings, "Reading")
    assert type(stored[5]["count"]) is int and stored[5]["count"] == 1
    assert type(stored[6]["sensor"]) is str and stored[6]["sensor"] == "sub"
    assert type(stored[7]["value"]) is float and stored[7]["value"] == 4.0


def test_a_required_field_left_out_of_every_row_is_required(readings: DataFlow) -> None:
    data = [{k: v for k, v in row.items() if k != "count"} for row in uniform()]
    error = _refused(readings, "ReadingBulkCreateNode", {"data": data}, "count", 0)
    assert "required" in str(error)
    assert count(readings, "Reading") == 0


def test_rows_with_as_many_keys_but_one_unknown_name_it(readings: DataFlow) -> None:
    data = uniform()
    data[12] = {"sensor": "s12", "value": 1.0, "count": 1, "vallid": True}
    error = _refused(readings, "ReadingBulkCreateNode", {"data": data}, "vallid", 12)
    assert "valid" in str(error)  # the nearest field is suggested
    assert count(readings, "Reading") == 0


def test_naive_datetimes_in_uniform_rows_are_taken_as_utc(db: DataFlow) -> None:
    @db.model
    class Stamp:
        label: str
        at: dt.datetime

    naive = dt.datetime(2026, 3, 1, 12, 30)
    data = [{"label": f"l{i}", "at": naive + dt.timedelta(minutes=i)} for i in range(ROWS)]
    run_node(db, "StampBulkCreateNode", {"data": data})
    stored = records(db, "Stamp")
    assert [r["at"] for r in stored] == [(naive + dt.timedelta(minutes=i)).replace(tzinfo=dt.UTC) for i in range(ROWS)]


def test_uniform_rows_of_a_model_with_timestamps_all_get_both_stamps(db: DataFlow) -> None:
    @db.model
    class Entry:
        title: str
        views: int = 0
        __dataflow__ = {"timestamps": True}

    data = [{"title": f"t{i}"} for i in range(ROWS)]
    assert run_node(db, "EntryBulkCreateNode", {"data": data}) == {"inserted": ROWS}
    stored = records(db, "Entry")
    assert [r["title"] for r in stored] == [f"t{i}" for i in range(ROWS)]
    assert {r["views"] for r in stored} == {0}
    stamps = {r["created_at"] for r in stored} | {r["updated_at"] for r in stored}
    assert len(stamps) == 1 and next(iter(stamps)).tzinfo is not None  # one clock reading for the request
