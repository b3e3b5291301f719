"""The condition language: parsed, evaluated against an output, never eval-ed."""

from __future__ import annotations

from typing import Any

import pytest

from dataflow import WorkflowBuildError
from dataflow.workflow.expression import MissingOutput, parse_condition

OUTPUT = {"record": {"age": 30, "name": "Ann", "role": None}, "count": 2, "records": [{"id": 7}]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("record.age >= 18", True),
        ("record.age < 18", False),
        ("record.name == 'Ann' and count == 2", True),
        ('record.name == "Bob" or count > 1', True),
        ("not record.age == 30", False),
        ("not (record.age == 30 or count == 2)", False),
        ("record.role == null", True),
        ("record.role.name == null", True),
        ("records.5.id == null", True),
        ("count in [1, 2, 3]", True),
        ("count not in [1, 2, 3]", False),
        ("records.0.id == 7", True),
        ("record.age > 'x'", False),
        ("true", True),
        ("count", 2),
        ("record.age == 30.0", True),
        ("'it\\'s' == 'it\\'s'", True),
    ],
)
def test_evaluation(text: str, expected: Any) -> None:
    assert parse_condition(text).evaluate(OUTPUT) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "record.age >=",
        "(count == 1",
        "__import__('os').system('x')",
        "count == 1 extra",
        "a ; b",
        "x = 1",
        "lambda: 1",
    ],
)
def test_syntax_errors_name_the_condition(text: str) -> None:
    with pytest.raises(WorkflowBuildError, match="condition"):
        parse_condition(text)


@pytest.mark.parametrize(
    ("text", "missing", "options"),
    [
        ("record.agee >= 18", "record.agee", ("age", "name", "role")),
        ("count.x == 1", "count.x", ()),
        ("true or nothing == 1", None, None),
        ("nothing == 1", "nothing", ("record", "count", "records")),
    ],
)
def test_a_key_the_output_lacks_is_missing_not_null(text: str, missing: str | None, options: Any) -> None:
    condition = parse_condition(text)
    if missing is None:
        assert condition.evaluate(OUTPUT) is True  # never read: 'or' stops at the first true operand
        return
    with pytest.raises(MissingOutput) as info:
        condition.evaluate(OUTPUT)
    assert str(info.value) == missing and info.value.options == options


def test_paths_lists_every_path_a_condition_reads() -> None:
    condition = parse_condition("not (record.age >= 18 and count in [records.0.id, 2]) or ok")
    assert list(condition.paths()) == [("record", "age"), ("count",), ("records", "0", "id"), ("ok",)]


@pytest.mark.parametrize(
    "text",
    ["(" * 500 + "count > 0" + ")" * 500, "not " * 500 + "count", "count in " + "[" * 500 + "]" * 500],
)
def test_a_condition_nested_too_deep_is_a_build_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(WorkflowBuildError, match="nested more than"):
        parse_condition(text)


def test_a_condition_nested_within_the_limit_parses() -> None:
    assert parse_condition("(" * 40 + "count == 2" + ")" * 40).evaluate(OUTPUT) is True
    assert parse_condition("not " * 40 + "count == 2").evaluate(OUTPUT) is True
