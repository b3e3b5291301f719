"""Keyset pages and streams on a real database: ``after``/``next`` walk every row once, cursors are checked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ...database import DataFlow
from ...errors import ValidationError
from ..helpers import failure, run_node


@pytest.fixture
def crowd(users: DataFlow) -> DataFlow:
    rows = [{"name": f"u{i:03}", "email": f"u{i}@x", "age": i % 7} for i in range(53)]
    run_node(users, "UserBulkCreateNode", {"data": rows})
    return users


def pages(db: DataFlow, **params: Any) -> list[list[dict[str, Any]]]:
    found = []
    after = None
    while True:
        page = run_node(db, "UserListNode", {**params, **({"after": after} if after else {})})
        found.append(page["records"])
        after = page["next"]
        if after is None:
            return found


@pytest.mark.parametrize("order_by", [None, ["age"], ["-age", "name"], ["-id"], ["name"]])
def test_next_and_after_walk_every_row_exactly_once_in_order(crowd: DataFlow, order_by: list[str] | None) -> None:
    params: dict[str, Any] = {"limit": 10, **({"order_by": order_by} if order_by else {})}
    walked = [record["id"] for page in pages(crowd, **params) for record in page]
    everything = run_node(crowd, "UserListNode", {k: v for k, v in params.items() if k != "limit"})["records"]
    expected = [r["id"] for r in everything]
    assert len(walked) == 53 and len(set(walked)) == 53
    if order_by is None or order_by in (["-id"], ["name"]):
        assert walked == expected


def test_pages_follow_the_filter_and_fields(crowd: DataFlow) -> None:
    walked = pages(crowd, limit=4, filter={"age": 3}, fields=["name"], order_by=["-name"])
    names = [r["name"] for page in walked for r in page]
    assert names == sorted((f"u{i:03}" for i in range(53) if i % 7 == 3), reverse=True)
    assert all(set(r) == {"name"} for page in walked for r in page)


def test_the_last_page_says_there_is_no_next(crowd: DataFlow) -> None:
    page = run_node(crowd, "UserListNode", {"limit": 100})
    assert page["count"] == 53 and page["next"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"order_by": ["age"]}, "another order_by"),
        ({"after": "garbage"}, "not a cursor"),
        ({"offset": 5}, "cannot be combined"),
    ],
)
def test_a_cursor_of_another_order_edited_or_mixed_with_offset_is_refused(
    crowd: DataFlow, change: dict[str, Any], message: str
) -> None:
    first = run_node(crowd, "UserListNode", {"limit": 5, "order_by": ["name"]})
    params = {"limit": 5, "order_by": ["name"], "after": first["next"], **change}
    error = failure(crowd, "UserListNode", params)
    assert isinstance(error, ValidationError) and error.field == "after" and message in error.message


def test_an_edited_cursor_fails_its_signature(crowd: DataFlow) -> None:
    cursor = run_node(crowd, "UserListNode", {"limit": 5})["next"]
    body, signature = cursor.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    error = failure(crowd, "UserListNode", {"limit": 5, "after": forged})
    assert isinstance(error, ValidationError) and "signature" in error.message


def test_a_cursor_of_another_model_is_refused(crowd: DataFlow) -> None:
    run_node(crowd, "TeamBulkCreateNode", {"data": [{"name": f"t{i}"} for i in range(3)]})
    cursor = run_node(crowd, "TeamListNode", {"limit": 1})["next"]
    error = failure(crowd, "UserListNode", {"limit": 1, "after": cursor})
    assert isinstance(error, ValidationError) and "of model 'Team'" in error.message


def test_keyset_pages_refuse_a_nullable_order_field(crowd: DataFlow) -> None:
    assert run_node(crowd, "UserListNode", {"limit": 5, "order_by": ["score"]})["next"] is None
    cursor = run_node(crowd, "UserListNode", {"limit": 5})["next"]
    error = failure(crowd, "UserListNode", {"limit": 5, "order_by": ["score"], "after": cursor})
    assert isinstance(error, ValidationError) and "'score' is nullable" in error.message


def test_stream_yields_every_matching_record_in_batches(crowd: DataFlow) -> None:
    async def main() -> list[str]:
        return [r["name"] async for r in crowd.express.stream("User", filter={"age": {"$lt": 3}}, batch=4)]

    names = asyncio.run(main())
    assert names == [f"u{i:03}" for i in range(53) if i % 7 < 3]


def test_stream_refuses_an_order_it_cannot_page(crowd: DataFlow) -> None:
    async def main() -> None:
        async for _ in crowd.express.stream("User", order_by=["score"]):
            pass

    with pytest.raises(ValidationError, match="'score' is nullable"):
        asyncio.run(main())
