"""The eleven nodes: parameters in, plain dicts out, rows in the database."""

from __future__ import annotations

import datetime as dt

from ...database import DataFlow
from ...errors import NotFoundError, UniqueViolationError, ValidationError
from ..helpers import count, failure, people, records, run_node


def test_create_returns_the_record_with_its_id_and_defaults(users: DataFlow) -> None:
    created = run_node(users, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    assert isinstance(created["id"], int)
    assert created == {
        "id": created["id"],
        "name": "Ann",
        "email": "ann@example.com",
        "age": 0,
        "active": True,
        "score": None,
        "team_id": None,
    }
    assert count(users, "User") == 1


def test_read_returns_the_record(users: DataFlow) -> None:
    created = run_node(users, "UserCreateNode", {"name": "Ann", "email": "ann@example.com", "age": 30})
    assert run_node(users, "UserReadNode", {"id": created["id"]}) == created


def test_read_of_a_missing_id_raises_not_found(users: DataFlow) -> None:
    error = failure(users, "UserReadNode", {"id": 424242})
    assert isinstance(error, NotFoundError)
    assert error.model == "User"


def test_read_of_a_missing_id_can_return_none(users: DataFlow) -> None:
    assert run_node(users, "UserReadNode", {"id": 424242, "raise_on_not_found": False}) is None


def test_update_by_id_returns_the_updated_record(users: DataFlow) -> None:
    created = run_node(users, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    updated = run_node(users, "UserUpdateNode", {"id": created["id"], "fields": {"age": 41, "active": False}})
    assert updated == {**created, "age": 41, "active": False}
    assert run_node(users, "UserReadNode", {"id": created["id"]}) == updated


def test_update_by_filter_returns_the_count(users: DataFlow) -> None:
    run_node(users, "UserBulkCreateNode", {"data": people(10)})
    result = run_node(users, "UserUpdateNode", {"filter": {"age": {"$lt": 5}}, "fields": {"active": False}})
    assert result == {"updated": 5}
    assert count(users, "User", {"active": False}) == 5


def test_update_of_a_missing_id_raises_not_found(users: DataFlow) -> None:
    assert isinstance(failure(users, "UserUpdateNode", {"id": 999, "fields": {"age": 1}}), NotFoundError)


def test_update_cannot_change_the_primary_key(users: DataFlow) -> None:
    created = run_node(users, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    error = failure(users, "UserUpdateNode", {"id": created["id"], "fields": {"id": 5}})
    assert isinstance(error, ValidationError) and error.field == "id"


def test_delete_by_id(users: DataFlow) -> None:
    created = run_node(users, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    assert run_node(users, "UserDeleteNode", {"id": created["id"]}) == {"deleted": 1}
    assert count(users, "User") == 0


def test_delete_by_filter(users: DataFlow) -> None:
    run_node(users, "UserBulkCreateNode", {"data": people(10)})
    assert run_node(users, "UserDeleteNode", {"filter": {"age": {"$gte": 7}}}) == {"deleted": 3}
    assert count(users, "User") == 7


def test_delete_of_a_missing_id_raises_not_found(users: DataFlow) -> None:
    assert isinstance(failure(users, "UserDeleteNode", {"id": 999}), NotFoundError)


def test_list_filters_orders_and_pages(users: DataFlow) -> None:
    run_node(users, "UserBulkCreateNode", {"data": people(20)})
    result = run_node(
        users, "UserListNode", {"filter": {"age": {"$gte": 10}}, "order_by": ["-age"], "limit": 3, "offset": 2}
    )
    assert [r["age"] for r in result["records"]] == [17, 16, 15]
    assert result["count"] == 3


def test_list_offset_without_limit(users: DataFlow) -> None:
    run_node(users, "UserBulkCreateNode", {"data": people(5)})
    assert [r["age"] for r in records(users, "User", offset=3)] == [3, 4]


def test_list_returns_only_the_fields_asked_for(users: DataFlow) -> None:
    run_node(users, "UserCreateNode", {"name": "Ann", "email": "ann@example.com"})
    result = run_node(users, "UserListNode", {"fields": ["name", "active"]})
    assert result["records"] == [{"name": "Ann", "active": True}]


def test_list_orders_by_several_fields(users: DataFlow) -> None:
    data = [{"name": n, "email": f"{n}{a}@x", "age": a} for n, a in [("b", 1), ("a", 1), ("c", 0)]]
    run_node(users, "UserBulkCreateNode", {"data": data})
    ordered = records(users, "User", order_by=["age", "-name"])
    assert [(r["age"], r["name"]) for r in ordered] == [(0, "c"), (1, "b"), (1, "a")]


def test_count_counts_matching_rows(users: DataFlow) -> None:
    run_node(users, "UserBulkCreateNode", {"data": people(12)})
    assert run_node(users, "UserCountNode", {"filter": {"age": {"$in": [1, 2, 3]}}}) == {"count": 3}
    assert run_node(users, "UserCountNode", {}) == {"count": 12}


def test_upsert_creates_then_updates(users: DataFlow) -> None:
    first = run_node(
        users, "UserUpsertNode", {"name": "Ann", "email": "ann@example.com", "age": 1, "conflict_on": ["email"]}
    )
    assert first["created"] is True and first["record"]["age"] == 1
    second = run_node(
        users, "UserUpsertNode", {"name": "Ann B", "email": "ann@example.com", "age": 2, "conflict_on": ["email"]}
    )
    assert second["created"] is False
    assert second["record"] == {**first["record"], "name": "Ann B", "age": 2}
    assert count(users, "User") == 1


def test_foreign_key_fields_reference_the_other_model(users: DataFlow) -> None:
    team = run_node(users, "TeamCreateNode", {"name": "core"})
    user = run_node(users, "UserCreateNode", {"name": "Ann", "email": "a@x", "team_id": team["id"]})
    assert user["team_id"] == team["id"]
    assert count(users, "User", {"team_id": team["id"]}) == 1


def test_timestamps_are_kept_by_dataflow(db: DataFlow) -> None:
    @db.model
    class Note:
        text: str
        __dataflow__ = {"timestamps": True}

    created = run_node(db, "NoteCreateNode", {"text": "a"})
    assert isinstance(created["created_at"], dt.datetime)
    assert created["created_at"] == created["updated_at"]
    updated = run_node(db, "NoteUpdateNode", {"id": created["id"], "fields": {"text": "b"}})
    assert updated["updated_at"] >= created["updated_at"]
    assert updated["created_at"] == created["created_at"]
    error = failure(db, "NoteUpdateNode", {"id": created["id"], "fields": {"created_at": dt.datetime.now()}})
    assert isinstance(error, ValidationError) and error.field == "created_at"


def test_soft_delete_hides_records_without_removing_them(db: DataFlow) -> None:
    @db.model
    class Doc:
        title: str
        __dataflow__ = {"soft_delete": True}

    kept = run_node(db, "DocCreateNode", {"title": "kept"})
    gone = run_node(db, "DocCreateNode", {"title": "gone"})
    assert run_node(db, "DocDeleteNode", {"id": gone["id"]}) == {"deleted": 1}
    assert count(db, "Doc") == 1
    assert run_node(db, "DocReadNode", {"id": gone["id"], "raise_on_not_found": False}) is None
    assert [r["id"] for r in records(db, "Doc")] == [kept["id"]]
    assert run_node(db, "DocDeleteNode", {"id": gone["id"], "raise_on_not_found": False}) == {"deleted": 0}
    assert run_node(db, "DocBulkDeleteNode", {"ids": [kept["id"], gone["id"]]}) == {"deleted": 1}
    assert count(db, "Doc") == 0


def test_bulk_upsert_does_not_update_a_soft_deleted_record(db: DataFlow) -> None:
    @db.model
    class Member:
        email: str
        name: str
        __dataflow__ = {"soft_delete": True, "unique": [("email",)]}

    gone = run_node(db, "MemberCreateNode", {"email": "gone@x", "name": "before"})
    run_node(db, "MemberDeleteNode", {"id": gone["id"]})
    data = [{"email": "gone@x", "name": "after"}, {"email": "new@x", "name": "new"}]
    # Unique among live rows: the soft-deleted row holds no email, so both rows are new ones.
    result = run_node(db, "MemberBulkUpsertNode", {"data": data, "conflict_on": ["email"]})
    assert result == {"inserted": 2, "updated": 0}
    live = records(db, "Member")
    assert [(r["email"], r["name"]) for r in live] == [("gone@x", "after"), ("new@x", "new")]
    assert gone["id"] not in [r["id"] for r in live]
    again = run_node(
        db, "MemberBulkUpsertNode", {"data": [{"email": "gone@x", "name": "again"}], "conflict_on": ["email"]}
    )
    assert again == {"inserted": 0, "updated": 1}
    assert count(db, "Member") == 2


def test_a_soft_deleted_unique_value_can_be_created_again_but_live_duplicates_cannot(db: DataFlow) -> None:
    @db.model
    class Account:
        email: str
        __dataflow__ = {"soft_delete": True, "unique": [("email",)]}

    first = run_node(db, "AccountCreateNode", {"email": "ann@x"})
    run_node(db, "AccountDeleteNode", {"id": first["id"]})
    second = run_node(db, "AccountCreateNode", {"email": "ann@x"})
    assert second["id"] != first["id"]
    error = failure(db, "AccountCreateNode", {"email": "ann@x"})
    assert isinstance(error, UniqueViolationError) and "email" in error.fields
    run_node(db, "AccountDeleteNode", {"id": second["id"]})
    upserted = run_node(db, "AccountUpsertNode", {"email": "ann@x", "conflict_on": ["email"]})
    assert upserted["created"] is True
    assert [r["email"] for r in records(db, "Account")] == ["ann@x"]
