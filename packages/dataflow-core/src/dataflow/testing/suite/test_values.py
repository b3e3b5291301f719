"""One rule per value kind on every backend: invalid text, NaN, naive datetimes, values no column can hold."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

from ...database import DataFlow
from ...errors import FilterError, ValidationError
from ...fields import MAX_JSON_DEPTH
from ..helpers import count, failure, people, run_node

SURROGATES = ["\udcc3\udca9", "a\ud800b", "\udfff"]
"""Lone surrogates: not Unicode text. No database stores them (MariaDB's driver turned them into other characters)."""


def define_values(db: DataFlow) -> None:
    @db.model
    class Sample:
        label: str
        tags: list[str]
        doc: dict  # type: ignore[type-arg]
        ratio: float = 0.0
        maybe: float | None = None
        at: dt.datetime | None = None
        number: int = 0
        scores: list[float] | None = None


def sample(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"label": "ok", "tags": ["a"], "doc": {"k": "v"}}
    record.update(overrides)
    return record


@pytest.fixture
def samples(db: DataFlow) -> DataFlow:
    define_values(db)
    return db


def _refused(db: DataFlow, node: str, params: dict[str, Any], field: str) -> ValidationError:
    error = failure(db, node, params)
    assert isinstance(error, ValidationError), repr(error)
    assert error.field == field, (error.field, str(error))
    return error


# -- invalid Unicode ----------------------------------------------------------------


@pytest.mark.parametrize("text", SURROGATES)
def test_text_with_a_lone_surrogate_is_a_validation_error_naming_the_field(samples: DataFlow, text: str) -> None:
    error = _refused(samples, "SampleCreateNode", sample(label=text), "label")
    assert "Unicode" in str(error)
    assert _refused(samples, "SampleCreateNode", sample(tags=["fine", text]), "tags")
    assert _refused(samples, "SampleCreateNode", sample(doc={"k": [text]}), "doc")
    assert _refused(samples, "SampleCreateNode", sample(doc={text: 1}), "doc")
    assert count(samples, "Sample") == 0


def test_text_with_nul_is_refused_on_every_backend(samples: DataFlow) -> None:
    error = _refused(samples, "SampleCreateNode", sample(label="a\x00b"), "label")
    assert "NUL" in str(error)
    _refused(samples, "SampleCreateNode", sample(tags=["a", "\x00"]), "tags")
    _refused(samples, "SampleCreateNode", sample(doc={"k": "a\x00"}), "doc")
    data = [sample(label=f"row{i}") for i in range(10)]
    data[4]["label"] = "\x00"
    assert "data[4]" in str(_refused(samples, "SampleBulkCreateNode", {"data": data}, "label"))
    assert count(samples, "Sample") == 0
    # A backslash followed by "u0000" is ordinary text, in JSON too.
    created = run_node(samples, "SampleCreateNode", sample(label="\\u0000", doc={"k": "\\u0000"}))
    read = run_node(samples, "SampleReadNode", {"id": created["id"]})
    assert read["label"] == "\\u0000" and read["doc"] == {"k": "\\u0000"}


def test_a_lone_surrogate_in_a_bulk_row_writes_nothing(samples: DataFlow) -> None:
    data = [sample(label=f"row{i}") for i in range(20)]
    data[7]["label"] = "x\udcc3\udca9"
    error = _refused(samples, "SampleBulkCreateNode", {"data": data}, "label")
    assert "data[7]" in str(error)
    assert count(samples, "Sample") == 0


def test_a_lone_surrogate_in_an_update_or_a_filter_is_refused(samples: DataFlow) -> None:
    created = run_node(samples, "SampleCreateNode", sample(label="é ✓ 😀"))
    _refused(samples, "SampleUpdateNode", {"id": created["id"], "fields": {"label": "\ud800"}}, "label")
    error = failure(samples, "SampleListNode", {"filter": {"label": "\ud800"}})
    assert isinstance(error, FilterError) and error.field == "label"
    assert run_node(samples, "SampleReadNode", {"id": created["id"]})["label"] == "é ✓ 😀"


# -- NaN and infinities -------------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_refused_on_every_float_field(samples: DataFlow, value: float) -> None:
    for field in ("ratio", "maybe"):
        error = _refused(samples, "SampleCreateNode", sample(**{field: value}), field)
        assert "finite" in str(error)
    assert count(samples, "Sample") == 0


def test_nan_in_a_bulk_row_writes_nothing(samples: DataFlow) -> None:
    data = [sample(label=f"row{i}", maybe=float(i)) for i in range(20)]
    data[11]["maybe"] = math.nan
    error = _refused(samples, "SampleBulkCreateNode", {"data": data}, "maybe")
    assert "data[11]" in str(error)
    data[11]["maybe"] = 1.0
    data[3]["ratio"] = -math.inf
    assert "data[3]" in str(_refused(samples, "SampleBulkCreateNode", {"data": data}, "ratio"))
    assert count(samples, "Sample") == 0


def test_nan_in_an_update_a_filter_or_json_is_refused(samples: DataFlow) -> None:
    created = run_node(samples, "SampleCreateNode", sample(maybe=1.5))
    _refused(samples, "SampleUpdateNode", {"id": created["id"], "fields": {"maybe": math.nan}}, "maybe")
    _refused(samples, "SampleCreateNode", sample(doc={"x": math.inf}), "doc")
    assert "scores[1]" in str(_refused(samples, "SampleCreateNode", sample(scores=[1.0, math.nan]), "scores"))
    error = failure(samples, "SampleCountNode", {"filter": {"maybe": {"$lt": math.inf}}})
    assert isinstance(error, FilterError) and error.field == "maybe"
    assert run_node(samples, "SampleReadNode", {"id": created["id"]})["maybe"] == 1.5


def test_a_float_field_returns_floats_from_every_writing_node(samples: DataFlow) -> None:
    created = run_node(samples, "SampleCreateNode", sample(label="u", ratio=2.0, maybe=2))
    assert type(created["ratio"]) is float and type(created["maybe"]) is float and created["maybe"] == 2.0
    updated = run_node(samples, "SampleUpdateNode", {"id": created["id"], "fields": {"ratio": 3.0, "maybe": 4}})
    assert type(updated["ratio"]) is float and type(updated["maybe"]) is float
    for key in (created["id"], created["id"] + 100):  # an update, then an insert
        upserted = run_node(samples, "SampleUpsertNode", {**sample(label="v", ratio=5.0, maybe=6), "id": key})
        assert type(upserted["record"]["ratio"]) is float and type(upserted["record"]["maybe"]) is float
    read = run_node(samples, "SampleReadNode", {"id": created["id"]})
    assert type(read["ratio"]) is float and read["ratio"] == 5.0


# -- naive datetimes ----------------------------------------------------------------


def test_a_naive_datetime_is_taken_as_utc_and_comes_back_aware(samples: DataFlow) -> None:
    naive = dt.datetime(2026, 3, 1, 12, 30, 15, 250)
    aware = naive.replace(tzinfo=dt.UTC)
    created = run_node(samples, "SampleCreateNode", sample(at=naive))
    assert created["at"] == aware and created["at"].utcoffset() == dt.timedelta(0)
    read = run_node(samples, "SampleReadNode", {"id": created["id"]})
    assert read["at"] == aware and read["at"].tzinfo is not None
    bulk = [sample(label="b", at="2026-03-01T12:30:15.000250")]
    run_node(samples, "SampleBulkCreateNode", {"data": bulk})
    records = run_node(samples, "SampleListNode", {"order_by": ["id"]})["records"]
    assert [r["at"] for r in records] == [aware, aware]


def test_equal_instants_match_one_filter_however_they_are_written(samples: DataFlow) -> None:
    instant = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    plus_two = dt.timezone(dt.timedelta(hours=2))
    run_node(samples, "SampleCreateNode", sample(label="naive", at=instant.replace(tzinfo=None)))
    run_node(samples, "SampleCreateNode", sample(label="aware", at=instant.astimezone(plus_two)))
    for written in (instant, instant.replace(tzinfo=None), instant.astimezone(plus_two), "2026-03-01T12:00:00"):
        assert count(samples, "Sample", {"at": written}) == 2, written
        assert count(samples, "Sample", {"at": {"$gte": written}}) == 2, written


@pytest.mark.parametrize("clock", [dt.time(10, 0, tzinfo=dt.UTC), "10:00:00+02:00"])
def test_a_time_with_a_zone_is_refused_on_every_backend(db: DataFlow, clock: Any) -> None:
    @db.model
    class Opening:
        at: dt.time

    error = _refused(db, "OpeningCreateNode", {"at": clock}, "at")
    assert "naive" in str(error)
    assert run_node(db, "OpeningCreateNode", {"at": "10:00:00"})["at"] == dt.time(10, 0)
    assert count(db, "Opening") == 1


# -- values no column can hold, and inputs that used to escape the error hierarchy ----


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_an_int_beyond_64_bits_is_a_validation_error(samples: DataFlow, value: int) -> None:
    error = _refused(samples, "SampleCreateNode", sample(number=value), "number")
    assert "64-bit" in str(error)
    data = [sample(number=i) for i in range(5)] + [sample(number=value)]
    assert "data[5]" in str(_refused(samples, "SampleBulkCreateNode", {"data": data}, "number"))
    filtered = failure(samples, "SampleCountNode", {"filter": {"number": {"$gt": value}}})
    assert isinstance(filtered, FilterError) and filtered.field == "number"
    assert count(samples, "Sample") == 0


def test_the_64_bit_limits_themselves_are_stored(samples: DataFlow) -> None:
    for value in (2**63 - 1, -(2**63)):
        created = run_node(samples, "SampleCreateNode", sample(number=value))
        assert run_node(samples, "SampleReadNode", {"id": created["id"]})["number"] == value


def nested(levels: int) -> Any:
    """A JSON document ``levels`` deep: ``{"d": [[...]]}``."""
    deep: Any = []
    for _ in range(levels - 2):
        deep = [deep]
    return {"d": deep}


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 100_000])
def test_json_nested_too_deep_is_a_validation_error(samples: DataFlow, levels: int) -> None:
    error = _refused(samples, "SampleCreateNode", sample(doc=nested(levels)), "doc")
    assert "deep" in str(error)
    wide = {"k": [[i] for i in range(MAX_JSON_DEPTH * 2)]}  # many brackets, shallow: stored
    run_node(samples, "SampleCreateNode", sample(doc=wide))
    assert count(samples, "Sample") == 1


def test_json_as_deep_as_the_limit_is_stored_on_every_backend(samples: DataFlow) -> None:
    created = run_node(samples, "SampleCreateNode", sample(doc=nested(MAX_JSON_DEPTH), tags=["x"]))
    assert run_node(samples, "SampleReadNode", {"id": created["id"]})["doc"] == nested(MAX_JSON_DEPTH)


@pytest.mark.parametrize("parameter", ["limit", "offset"])
def test_a_limit_beyond_64_bits_is_a_validation_error(samples: DataFlow, parameter: str) -> None:
    error = failure(samples, "SampleListNode", {parameter: 10**20})
    assert isinstance(error, ValidationError) and error.field == parameter


def test_like_on_a_field_that_is_not_text_is_a_filter_error(samples: DataFlow) -> None:
    run_node(samples, "SampleCreateNode", sample(number=12))
    for operator in ("$like", "$ilike"):
        error = failure(samples, "SampleListNode", {"filter": {"number": {operator: "1%"}}})
        assert isinstance(error, FilterError) and error.field == "number"
        assert "text" in str(error)


# -- the bulk fast paths (rows of plain str/int/float values) check values too ------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "x\udcc3\udca9"), ("email", "a\x00@x"), ("age", 2**63), ("score", math.nan), ("score", -math.inf)],
)
def test_bulk_rows_of_plain_values_are_checked_too(users: DataFlow, field: str, value: Any) -> None:
    uniform = [{**row, "score": 1.5} for row in people(30)]
    uniform[17][field] = value
    error = _refused(users, "UserBulkCreateNode", {"data": uniform}, field)
    assert "data[17]" in str(error)
    # Rows with different keys go row by row: the same check, the same error.
    mixed = people(30)
    mixed[3]["score"] = 2.5
    mixed[21][field] = value
    error = _refused(users, "UserBulkCreateNode", {"data": mixed}, field)
    assert "data[21]" in str(error)
    assert count(users, "User") == 0


def test_bulk_rows_of_plain_values_at_the_limits_are_stored(users: DataFlow) -> None:
    data = [{**row, "score": 1e308} for row in people(4)]  # their sum overflows; each is finite
    data[0]["age"], data[1]["age"] = 2**63 - 1, -(2**63)
    data[2]["name"] = "é ✓ 😀 \\u0000"
    assert run_node(users, "UserBulkCreateNode", {"data": data}) == {"inserted": 4}
    stored = run_node(users, "UserListNode", {"order_by": ["id"]})["records"]
    assert [r["age"] for r in stored[:2]] == [2**63 - 1, -(2**63)]
    assert stored[2]["name"] == "é ✓ 😀 \\u0000" and {r["score"] for r in stored} == {1e308}
