"""The direct API on a real database: every operation returns its node's output; transactions commit or roll back."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ...database import DataFlow
from ...errors import ConfigError, NotFoundError, UniqueViolationError, ValidationError
from ..helpers import count, records


def test_every_operation_returns_its_nodes_output_shape(users: DataFlow) -> None:
    x = users.express_sync
    ann = x.create("User", {"name": "Ann", "email": "ann@x", "age": 30})
    assert ann["id"] and ann["name"] == "Ann" and ann["active"] is True
    assert x.read("User", ann["id"]) == ann
    assert x.read("User", 10**9, raise_on_not_found=False) is None
    assert x.update("User", ann["id"], {"age": 31})["age"] == 31
    assert x.update("User", filter={"name": "Ann"}, fields={"age": 32}) == {"updated": 1}
    assert x.bulk_create("User", [{"name": f"u{i}", "email": f"u{i}@x", "age": i} for i in range(5)]) == {"inserted": 5}
    assert x.count("User", filter={"age": {"$lt": 5}}) == {"count": 5}
    page = x.list("User", filter={"age": {"$lt": 5}}, order_by=["-age"], limit=2)
    assert [r["name"] for r in page["records"]] == ["u4", "u3"] and page["count"] == 2
    upserted = x.upsert("User", {"name": "Ann B", "email": "ann@x", "age": 33}, conflict_on=["email"])
    assert upserted["created"] is False and upserted["record"]["name"] == "Ann B"
    assert x.bulk_upsert("User", [{"name": "n", "email": "new@x"}, {"name": "m", "email": "ann@x"}],
                         conflict_on=["email"]) == {"inserted": 1, "updated": 1}  # fmt: skip
    assert x.bulk_update("User", filter={"name": {"$in": ["u0", "u1"]}}, fields={"active": False}) == {"updated": 2}
    assert x.aggregate("User", aggregates={"n": {"$count": "*"}}, filter={"active": False})["groups"] == [{"n": 2}]
    assert x.bulk_delete("User", filter={"active": False}) == {"deleted": 2}
    assert x.delete("User", ann["id"]) == {"deleted": 1}
    assert count(users, "User") == 4


def test_the_model_may_be_named_by_its_class(users: DataFlow) -> None:
    class User:  # stands for the model class a user holds
        pass

    users.express_sync.create(User, {"name": "Cy", "email": "cy@x"})
    assert users.express_sync.count(User) == {"count": 1}


def test_errors_are_the_nodes_own_raised_directly(users: DataFlow) -> None:
    x = users.express_sync
    with pytest.raises(ValidationError) as bad:
        x.create("User", {"name": "Ann", "email": "a@x", "age": "old"})
    assert bad.value.field == "age"
    with pytest.raises(ValidationError, match="no parameter 'fitler'"):
        x.list("User", fitler={})
    with pytest.raises(NotFoundError):
        x.read("User", 10**9)
    with pytest.raises(ConfigError, match="did you mean 'User'"):
        x.count("Usr")
    with pytest.raises(AttributeError, match="did you mean 'create'"):
        x.craete("User", {})
    assert count(users, "User") == 0


def test_a_transaction_commits_every_write_together(users: DataFlow) -> None:
    async def main() -> None:
        async with users.transaction() as tx:
            await tx.create("User", {"name": "Ann", "email": "ann@x"})
            await tx.bulk_create("User", [{"name": "Bob", "email": "bob@x"}])
            assert (await tx.count("User"))["count"] == 2

    asyncio.run(main())
    assert [r["name"] for r in records(users, "User")] == ["Ann", "Bob"]


def test_a_failure_inside_a_transaction_rolls_every_write_back(users: DataFlow) -> None:
    async def main() -> None:
        async with users.transaction() as tx:
            await tx.create("User", {"name": "Ann", "email": "ann@x"})
            await tx.bulk_create("User", [{"name": "Bob", "email": "bob@x"}])
            await tx.create("User", {"name": "Ann again", "email": "ann@x"})

    with pytest.raises(UniqueViolationError):
        asyncio.run(main())
    assert count(users, "User") == 0


def test_an_exception_of_the_callers_own_rolls_back_too(users: DataFlow) -> None:
    async def main() -> None:
        async with users.transaction(isolation="serializable") as tx:
            await tx.create("User", {"name": "Ann", "email": "ann@x"})
            raise LookupError("changed my mind")

    with pytest.raises(LookupError):
        asyncio.run(main())
    assert count(users, "User") == 0


def test_the_async_api_runs_calls_concurrently_on_separate_sessions(users: DataFlow) -> None:
    async def main() -> list[Any]:
        x = users.express
        await asyncio.gather(*(x.create("User", {"name": f"u{i}", "email": f"u{i}@x"}) for i in range(20)))
        return [await x.count("User")]

    assert asyncio.run(main()) == [{"count": 20}]


def test_the_sync_face_works_inside_a_running_loop(users: DataFlow) -> None:
    async def main() -> dict[str, Any]:
        users.express_sync.create("User", {"name": "Ann", "email": "ann@x"})
        return dict(users.express_sync.count("User"))

    assert asyncio.run(main()) == {"count": 1}
