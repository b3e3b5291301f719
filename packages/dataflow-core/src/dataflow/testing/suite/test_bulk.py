"""Bulk nodes: true counts, and every strategy giving the same rows."""

from __future__ import annotations

from typing import Any

from ...bulk.strategy import BulkRequest, offered_strategies, registered_bulk_strategies
from ...database import DataFlow
from ...errors import ValidationError
from ...nodes.bulk_base import PIPELINE_ROWS
from ..helpers import count, failure, people, records, run_node


def snapshot(db: DataFlow) -> list[tuple[Any, ...]]:
    return sorted((r["email"], r["name"], r["age"], r["active"]) for r in records(db, "User"))


def strategy_names(db: DataFlow, operation: str, **request: Any) -> list[str]:
    table = db.table_sql(db.schema("User"))
    probe = BulkRequest(operation, table, **request)  # type: ignore[arg-type]
    return sorted(
        s.name
        for s in offered_strategies(registered_bulk_strategies(), db.dialect)
        if s.operation == operation and s.cannot_run(db.dialect, probe) is None
    )


def test_bulk_create_inserts_every_row(users: DataFlow) -> None:
    assert run_node(users, "UserBulkCreateNode", {"data": people(2500), "batch_size": 1000}) == {"inserted": 2500}
    assert count(users, "User") == 2500


def test_bulk_create_returns_ids_in_row_order(users: DataFlow) -> None:
    result = run_node(users, "UserBulkCreateNode", {"data": people(300), "return_ids": True, "batch_size": 128})
    assert result["inserted"] == 300 and len(result["ids"]) == 300
    by_id = {r["id"]: r["email"] for r in records(users, "User")}
    assert [by_id[i] for i in result["ids"]] == [p["email"] for p in people(300)]


def test_every_create_strategy_writes_the_same_rows(users: DataFlow) -> None:
    names = strategy_names(users, "create", columns=("name", "email", "age", "active"))
    assert names, "no bulk create strategy applies"
    snapshots = {}
    for name in names:
        run_node(users, "UserBulkDeleteNode", {"filter": {}, "confirmed": True})
        assert run_node(users, "UserBulkCreateNode", {"data": people(700), "strategy": name, "batch_size": 300}) == {
            "inserted": 700
        }
        snapshots[name] = snapshot(users)
    first = snapshots[names[0]]
    assert len(first) == 700
    assert all(s == first for s in snapshots.values())


def test_unknown_strategy_is_a_validation_error_listing_only_this_dialects_strategies(users: DataFlow) -> None:
    error = failure(users, "UserBulkCreateNode", {"data": people(2), "strategy": "teleport"})
    assert isinstance(error, ValidationError) and error.field == "strategy"
    name = users.dialect.name
    offered = offered_strategies(registered_bulk_strategies(), users.dialect)
    names = sorted(s.name for s in offered if s.operation == "create")
    assert f"unknown bulk create strategy 'teleport' for {name}; available on {name}: " in error.message
    assert error.message.endswith(", ".join(names))
    assert count(users, "User") == 0


def test_a_dialects_own_strategies_are_offered_besides_the_generic_ones(db: DataFlow) -> None:
    generic = registered_bulk_strategies()
    own = db.dialect.bulk_strategies()
    assert offered_strategies(generic, db.dialect) == [*generic, *own]
    assert type(db.dialect).bulk_strategies() == own  # known from the class, before any database is met
    names = [(s.operation, s.name) for s in offered_strategies(generic, db.dialect)]
    assert len(names) == len(set(names)), "two strategies of one operation share a name"


def test_a_forced_strategy_that_cannot_run_says_why_and_writes_nothing(users: DataFlow) -> None:
    params = {"data": people(3), "strategy": "executemany", "return_ids": True}
    error = failure(users, "UserBulkCreateNode", params)
    assert isinstance(error, ValidationError) and (error.model, error.field) == ("User", "strategy")
    assert error.message == (
        f"bulk strategy 'executemany' cannot run this create on {users.dialect.name}: "
        "it cannot return ids (return_ids=True)"
    )
    assert count(users, "User") == 0
    assert run_node(users, "UserBulkCreateNode", {"data": people(3), "strategy": "executemany"}) == {"inserted": 3}


def test_bulk_upsert_reports_measured_counts(users: DataFlow) -> None:
    run_node(users, "UserBulkCreateNode", {"data": people(100)})
    data = [{**p, "age": 99} for p in people(100, start=50)]
    result = run_node(users, "UserBulkUpsertNode", {"data": data, "conflict_on": ["email"]})
    assert result == {"inserted": 50, "updated": 50}
    assert count(users, "User") == 150
    assert count(users, "User", {"age": 99}) == 100


def test_bulk_upsert_by_primary_key_counts_inserts_and_updates(users: DataFlow) -> None:
    ids = run_node(users, "UserBulkCreateNode", {"data": people(10), "return_ids": True})["ids"]
    fresh = max(ids) + 100
    data = [{**p, "id": i, "age": 42} for p, i in zip(people(10), ids, strict=True)]
    data += [{"id": fresh + n, "name": "new", "email": f"new{n}@x", "age": 1} for n in range(5)]
    result = run_node(users, "UserBulkUpsertNode", {"data": data, "conflict_on": ["id"]})
    assert result == {"inserted": 5, "updated": 10}
    assert count(users, "User") == 15 and count(users, "User", {"age": 42}) == 10
    assert run_node(users, "UserReadNode", {"id": fresh + 4})["email"] == "new4@x"


def test_bulk_writes_larger_than_one_slice(users: DataFlow) -> None:
    # Bulk nodes validate the next slice of rows while the previous one is written.
    slice_rows = PIPELINE_ROWS
    created = run_node(users, "UserBulkCreateNode", {"data": people(slice_rows + 10), "return_ids": True})
    assert created["inserted"] == slice_rows + 10 and len(set(created["ids"])) == slice_rows + 10
    result = run_node(users, "UserBulkUpsertNode", {"data": people(slice_rows, start=20), "conflict_on": ["email"]})
    assert result == {"inserted": 10, "updated": slice_rows - 10}
    assert count(users, "User") == slice_rows + 20


def test_duplicate_keys_in_different_slices_are_found(users: DataFlow) -> None:
    data = people(PIPELINE_ROWS + 100)
    last = PIPELINE_ROWS + 50
    data[last] = {**data[last], "email": data[10]["email"]}
    error = failure(users, "UserBulkUpsertNode", {"data": data, "conflict_on": ["email"]})
    assert isinstance(error, ValidationError) and f"data[10] and data[{last}]" in str(error)
    assert count(users, "User") == 0


def test_a_bad_row_in_a_later_slice_writes_nothing(users: DataFlow) -> None:
    data = people(PIPELINE_ROWS + 100)
    data[PIPELINE_ROWS + 7]["age"] = "old"
    for inputs in ({"data": data}, {"data": data, "return_ids": True}):
        error = failure(users, "UserBulkCreateNode", inputs)
        assert isinstance(error, ValidationError) and f"data[{PIPELINE_ROWS + 7}]" in str(error)
        assert count(users, "User") == 0
    # A streaming strategy aborted mid-stream leaves its connection ready for the next node.
    assert run_node(users, "UserBulkCreateNode", {"data": people(3)}) == {"inserted": 3}
    assert count(users, "User") == 3


def test_a_bad_row_in_a_later_slice_of_an_upsert_writes_nothing(users: DataFlow) -> None:
    run_node(users, "UserBulkCreateNode", {"data": people(10)})
    data = [{**p, "age": 70} for p in people(PIPELINE_ROWS + 100)]
    data[PIPELINE_ROWS + 7]["email"] = None
    error = failure(users, "UserBulkUpsertNode", {"data": data, "conflict_on": ["email"]})
    assert isinstance(error, ValidationError) and f"data[{PIPELINE_ROWS + 7}]" in str(error)
    assert count(users, "User") == 10 and count(users, "User", {"age": 70}) == 0
    assert run_node(users, "UserBulkUpsertNode", {"data": people(12), "conflict_on": ["email"]}) == {
        "inserted": 2,
        "updated": 10,
    }


def test_bulk_upsert_counts_rows_whose_values_do_not_change_as_updated(users: DataFlow) -> None:
    run_node(users, "UserBulkCreateNode", {"data": people(10)})
    result = run_node(users, "UserBulkUpsertNode", {"data": people(12), "conflict_on": ["email"]})
    assert result == {"inserted": 2, "updated": 10}


def test_every_upsert_strategy_gives_the_same_rows_and_counts(users: DataFlow) -> None:
    columns = ("name", "email", "age", "active")
    names = strategy_names(users, "upsert", columns=columns, conflict_on=("email",), update_fields=("name", "age"))
    assert names, "no bulk upsert strategy applies"
    snapshots = {}
    for name in names:
        run_node(users, "UserBulkDeleteNode", {"filter": {}, "confirmed": True})
        run_node(users, "UserBulkCreateNode", {"data": people(200)})
        data = [{**p, "age": 7, "name": "changed"} for p in people(300, start=100)]
        result = run_node(
            users,
            "UserBulkUpsertNode",
            {
                "data": data,
                "conflict_on": ["email"],
                "update_fields": ["name", "age"],
                "strategy": name,
                "batch_size": 128,
            },
        )
        assert result == {"inserted": 200, "updated": 100}, name
        snapshots[name] = snapshot(users)
    first = snapshots[names[0]]
    assert all(s == first for s in snapshots.values())


def test_bulk_upsert_honours_update_fields(users: DataFlow) -> None:
    run_node(users, "UserBulkCreateNode", {"data": people(3)})
    data = [{**p, "name": "new", "age": 50} for p in people(3)]
    run_node(users, "UserBulkUpsertNode", {"data": data, "conflict_on": ["email"], "update_fields": ["age"]})
    rows = records(users, "User")
    assert {r["name"] for r in rows} == {"user0", "user1", "user2"}
    assert {r["age"] for r in rows} == {50}


def test_bulk_upsert_with_duplicate_keys_in_one_call(users: DataFlow) -> None:
    data = [{"name": "a", "email": "same@x", "age": 1}, {"name": "b", "email": "same@x", "age": 2}]
    error = failure(users, "UserBulkUpsertNode", {"data": data, "conflict_on": ["email"]})
    assert isinstance(error, ValidationError) and error.field == "email"
    assert count(users, "User") == 0
    result = run_node(users, "UserBulkUpsertNode", {"data": data, "conflict_on": ["email"], "on_duplicate": "last"})
    assert result == {"inserted": 1, "updated": 0}
    assert records(users, "User")[0]["name"] == "b"


def test_bulk_update_by_rows_with_keys(users: DataFlow) -> None:
    ids = run_node(users, "UserBulkCreateNode", {"data": people(20), "return_ids": True})["ids"]
    data = [{"id": i, "age": 77} for i in ids[:5]] + [{"id": i, "name": "renamed"} for i in ids[5:8]]
    assert run_node(users, "UserBulkUpdateNode", {"data": data}) == {"updated": 8}
    assert count(users, "User", {"age": 77}) == 5
    assert count(users, "User", {"name": "renamed"}) == 3


def test_bulk_update_of_missing_keys_counts_only_real_rows(users: DataFlow) -> None:
    ids = run_node(users, "UserBulkCreateNode", {"data": people(2), "return_ids": True})["ids"]
    data = [{"id": ids[0], "age": 5}, {"id": 987654, "age": 5}]
    assert run_node(users, "UserBulkUpdateNode", {"data": data}) == {"updated": 1}


def test_bulk_update_by_filter(users: DataFlow) -> None:
    run_node(users, "UserBulkCreateNode", {"data": people(20)})
    result = run_node(users, "UserBulkUpdateNode", {"filter": {"age": {"$lt": 10}}, "fields": {"active": False}})
    assert result == {"updated": 10}
    assert count(users, "User", {"active": False}) == 10


def test_bulk_delete_by_ids_and_by_filter(users: DataFlow) -> None:
    ids = run_node(users, "UserBulkCreateNode", {"data": people(30), "return_ids": True})["ids"]
    assert run_node(users, "UserBulkDeleteNode", {"ids": ids[:10] + [987654]}) == {"deleted": 10}
    assert run_node(users, "UserBulkDeleteNode", {"filter": {"age": {"$gte": 25}}}) == {"deleted": 5}
    assert count(users, "User") == 15


def test_every_delete_strategy_deletes_the_same_rows(users: DataFlow) -> None:
    names = strategy_names(users, "delete", keys=[1])
    for name in names:
        run_node(users, "UserBulkDeleteNode", {"filter": {}, "confirmed": True})
        ids = run_node(users, "UserBulkCreateNode", {"data": people(50), "return_ids": True})["ids"]
        assert run_node(users, "UserBulkDeleteNode", {"ids": ids[::2], "strategy": name}) == {"deleted": 25}, name
        assert count(users, "User") == 25
