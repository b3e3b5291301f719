"""BulkUpsert on a versioned model: every record it updates moves to the next version, whatever the strategy."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from monitor_helpers import define_item, one_node, run

from dataflow import DataFlow, WorkflowError
from dataflow.bulk.strategy import BulkRequest, offered_strategies, registered_bulk_strategies
from dataflow.errors import ConcurrentUpdateError, ValidationError


def upsert_strategies(db: DataFlow) -> list[str]:
    table = db.table_sql(db.schema("Item"))
    probe = BulkRequest("upsert", table, ("id", "name", "qty", "version"), conflict_on=("id",))
    return sorted(
        s.name
        for s in offered_strategies(registered_bulk_strategies(), db.dialect)
        if s.operation == "upsert" and s.cannot_run(db.dialect, probe) is None
    )


async def versions(db: DataFlow) -> dict[str, int]:
    listed = await run(one_node(db.nodes["ItemListNode"], {"order_by": ["id"]}))
    return {r["name"]: r["version"] for r in listed["n"]["records"]}


async def upsert(db: DataFlow, params: dict[str, Any]) -> dict[str, Any]:
    return (await run(one_node(db.nodes["ItemBulkUpsertNode"], params)))["n"]


def test_bulk_upsert_moves_each_updated_record_to_its_next_version(any_database_url: str) -> None:
    async def body() -> None:
        db = DataFlow(any_database_url)
        define_item(db, versioned=True)
        try:
            names = upsert_strategies(db)
            assert names
            for strategy in names:
                await run(one_node(db.nodes["ItemBulkDeleteNode"], {"filter": {}, "confirmed": True}))
                created = await run(
                    one_node(
                        db.nodes["ItemBulkCreateNode"], {"data": [{"name": "a"}, {"name": "b"}], "return_ids": True}
                    )
                )
                a, b = created["n"]["ids"]
                await run(one_node(db.nodes["ItemUpdateNode"], {"id": a, "fields": {"name": "a"}}))
                data = [
                    {"id": a, "name": "a", "qty": 5},
                    {"id": b, "name": "b", "qty": 6},
                    {"id": b + 100, "name": "c"},
                ]
                result = await upsert(db, {"data": data, "conflict_on": ["id"], "strategy": strategy})
                assert result == {"inserted": 1, "updated": 2}, strategy
                assert await versions(db) == {"a": 3, "b": 2, "c": 1}, strategy
                # update_fields=[] inserts new records only and leaves the others, versions included.
                data = [{"id": a, "name": "a", "qty": 9}, {"id": b + 200, "name": "d"}]
                result = await upsert(
                    db, {"data": data, "conflict_on": ["id"], "update_fields": [], "strategy": strategy}
                )
                assert result == {"inserted": 1, "updated": 0}, strategy
                assert await versions(db) == {"a": 3, "b": 2, "c": 1, "d": 1}, strategy
        finally:
            await db.close_async()

    asyncio.run(body())


def test_a_stale_update_after_a_bulk_upsert_is_refused(any_database_url: str) -> None:
    async def body() -> None:
        db = DataFlow(any_database_url)
        define_item(db, versioned=True)
        try:
            key = (await run(one_node(db.nodes["ItemCreateNode"], {"name": "start"})))["n"]["id"]
            read_version = (await run(one_node(db.nodes["ItemReadNode"], {"id": key})))["n"]["version"]
            await upsert(db, {"data": [{"id": key, "name": "bulk"}], "conflict_on": ["id"]})
            stale = one_node(
                db.nodes["ItemUpdateNode"], {"id": key, "fields": {"name": "stale", "version": read_version}}
            )
            with pytest.raises(WorkflowError) as caught:
                await run(stale)
            assert isinstance(caught.value.cause, ConcurrentUpdateError)
            final = (await run(one_node(db.nodes["ItemReadNode"], {"id": key})))["n"]
            assert (final["name"], final["version"]) == ("bulk", 2)
        finally:
            await db.close_async()

    asyncio.run(body())


@pytest.mark.parametrize(
    "params",
    [
        {"data": [{"id": 1, "name": "x", "version": 7}], "conflict_on": ["id"]},
        {"data": [{"id": 1, "name": "x"}], "conflict_on": ["id"], "update_fields": ["name", "version"]},
    ],
    ids=["version in a row", "version in update_fields"],
)
def test_a_version_given_to_bulk_upsert_is_refused_before_any_write(tmp_path: object, params: dict[str, Any]) -> None:
    async def body() -> None:
        db = DataFlow(f"sqlite:///{tmp_path}/versions.db")
        define_item(db, versioned=True)
        try:
            await run(one_node(db.nodes["ItemCreateNode"], {"name": "kept"}))
            with pytest.raises(WorkflowError) as caught:
                await upsert(db, params)
            error = caught.value.cause
            assert isinstance(error, ValidationError) and error.field == "version"
            assert "BulkUpdate" in str(error)
            assert await versions(db) == {"kept": 1}
        finally:
            await db.close_async()

    asyncio.run(body())
