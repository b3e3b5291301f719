"""Relations: include on Read and List, filters and ordering through relations, on a real database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest

from ...database import DataFlow
from ...errors import ConfigError, FilterError
from ...events import StatementExecuted
from ...fields import MaxLength
from ...workflow import LocalRuntime, WorkflowBuilder
from ..helpers import failure, open_db, records, run_node


def define_shop(db: DataFlow) -> None:
    """Owner <- Team <- Member <- Post, each a foreign key, as most apps have them."""

    @db.model
    class Owner:
        name: Annotated[str, MaxLength(50)]

    @db.model
    class Team:
        name: Annotated[str, MaxLength(50)]
        owner_id: Owner | None = None

    @db.model
    class Member:
        name: Annotated[str, MaxLength(50)]
        age: int = 0
        team_id: Team | None = None

    @db.model
    class Post:
        title: Annotated[str, MaxLength(50)]
        member_id: Member | None = None


@pytest.fixture
def shop(db: DataFlow) -> DataFlow:
    define_shop(db)
    run_node(db, "OwnerBulkCreateNode", {"data": [{"name": "Olga"}, {"name": "Otto"}]})
    run_node(db, "TeamBulkCreateNode", {"data": [{"name": "Core", "owner_id": 1}, {"name": "Docs", "owner_id": 2},
                                                 {"name": "Idle"}]})  # fmt: skip
    members = [
        {"name": "Ann", "age": 31, "team_id": 1},
        {"name": "Bob", "age": 17, "team_id": 1},
        {"name": "Cid", "age": 45, "team_id": 2},
        {"name": "Dee", "age": 22},
    ]
    run_node(db, "MemberBulkCreateNode", {"data": members})
    posts = [{"title": f"p{i}", "member_id": 1 + i % 3} for i in range(7)]
    run_node(db, "PostBulkCreateNode", {"data": posts})
    return db


def _names(rows: list[dict[str, Any]]) -> list[str]:
    return [row["name"] for row in rows]


def test_a_foreign_key_names_a_forward_and_a_reverse_relation(shop: DataFlow) -> None:
    assert set(shop.relations.of("Member")) == {"team", "posts"}
    assert set(shop.relations.of("Team")) == {"owner", "members"}
    assert shop.relations.of("Team")["members"].many is True
    assert shop.relations.of("Member")["team"].many is False


def test_include_a_forward_relation_on_list_puts_the_record_or_none(shop: DataFlow) -> None:
    rows = records(shop, "Member", include=["team"])
    assert [row["team"]["name"] if row["team"] else None for row in rows] == ["Core", "Core", "Docs", None]
    assert rows[0]["team"] == {"id": 1, "name": "Core", "owner_id": 1}


def test_include_a_reverse_relation_on_read_puts_a_list(shop: DataFlow) -> None:
    team = run_node(shop, "TeamReadNode", {"id": 1, "include": ["members"]})
    assert _names(team["members"]) == ["Ann", "Bob"]
    idle = run_node(shop, "TeamReadNode", {"id": 3, "include": ["members"]})
    assert idle["members"] == []


def test_dotted_includes_nest(shop: DataFlow) -> None:
    rows = records(shop, "Member", include=["team.owner", "posts"])
    assert rows[0]["team"]["owner"]["name"] == "Olga"
    assert rows[2]["team"]["owner"]["name"] == "Otto"
    assert [p["title"] for p in rows[0]["posts"]] == ["p0", "p3", "p6"]
    assert rows[3]["team"] is None and rows[3]["posts"] == []


def test_a_reverse_include_is_narrowed_with_fields_filter_order_and_a_limit_per_parent(shop: DataFlow) -> None:
    spec = {"members": {"fields": ["name"], "filter": {"age": {"$gte": 18}}, "order_by": ["-age"], "limit": 1}}
    teams = records(shop, "Team", include=spec)
    assert [team["members"] for team in teams] == [[{"name": "Ann"}], [{"name": "Cid"}], []]


def test_fields_without_the_join_key_still_include_and_do_not_show_the_key(shop: DataFlow) -> None:
    rows = records(shop, "Member", fields=["name"], include=["team"])
    assert rows[0] == {"name": "Ann", "team": {"id": 1, "name": "Core", "owner_id": 1}}


def test_include_loads_each_relation_in_one_query_whatever_the_number_of_rows(shop: DataFlow) -> None:
    statements: list[str] = []

    class Counter:
        def handle(self, event: Any) -> None:
            if isinstance(event, StatementExecuted):
                statements.append(str(event.operation))

    shop.monitors.append(Counter())
    try:
        records(shop, "Member", include=["team.owner", "posts"])
    finally:
        shop.monitors.pop()
    assert statements == ["list"] * 4


def test_a_workflow_connection_carries_included_data(shop: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(shop.nodes["MemberReadNode"], "member", {"id": 1, "include": ["team"]})
    workflow.add_node(shop.nodes["MemberListNode"], "mates", {})
    workflow.add_connection("member", "team.name", "mates", "filter.team.name")
    results, _ = LocalRuntime().execute(workflow.build())
    assert _names(results["mates"]["records"]) == ["Ann", "Bob"]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"team.name": "Core"}, ["Ann", "Bob"]),
        ({"team.name": {"$in": ["Docs", "Idle"]}}, ["Cid"]),
        ({"team.owner.name": "Otto"}, ["Cid"]),
        ({"team.name": {"$like": "%o%"}, "age": {"$gte": 18}}, ["Ann", "Cid"]),
        ({"$or": [{"team.name": "Docs"}, {"team_id": None}]}, ["Cid", "Dee"]),
        ({"posts": {"$some": {"title": "p2"}}}, ["Cid"]),
        ({"posts": {"$none": {}}}, ["Dee"]),
        ({"$not": {"team.name": "Core"}}, ["Cid", "Dee"]),
    ],
)
def test_filters_follow_relations(shop: DataFlow, filter: dict[str, Any], expected: list[str]) -> None:
    assert sorted(_names(records(shop, "Member", filter=filter))) == expected


def test_a_reverse_relation_filter_on_teams(shop: DataFlow) -> None:
    adults = records(shop, "Team", filter={"members": {"$some": {"age": {"$gte": 40}}}})
    assert _names(adults) == ["Docs"]
    empty = records(shop, "Team", filter={"members": {"$none": {}}})
    assert _names(empty) == ["Idle"]


def test_order_by_a_forward_relation_field(shop: DataFlow) -> None:
    rows = records(shop, "Member", filter={"team_id": {"$null": False}}, order_by=["-team.name", "age"])
    assert _names(rows) == ["Cid", "Bob", "Ann"]


def test_relation_values_are_bound_never_pasted(shop: DataFlow) -> None:
    assert records(shop, "Member", filter={"team.name": "Core' OR '1'='1"}) == []
    assert records(shop, "Team", filter={"members": {"$some": {"name": "x'); DROP TABLE member; --"}}}) == []
    assert len(records(shop, "Member")) == 4


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"include": ["teem"]}, "unknown relation 'teem' in include; did you mean 'team'?"),
        ({"include": ["team.ownr"]}, "did you mean 'owner'?"),
        ({"include": {"posts": {"limt": 2}}}, "no option 'limt'; did you mean 'limit'?"),
        ({"include": {"team": {"limit": 2}}}, "only 'fields' and 'include' apply"),
        ({"include": {"posts": {"fields": ["titel"]}}}, "did you mean 'title'?"),
        ({"include": {"posts": {"limit": -1}}}, "non-negative"),
        ({"include": 7}, "include takes"),
        ({"filter": {"taem.name": "x"}}, "did you mean 'team'?"),
        ({"filter": {"team.nmae": "x"}}, "did you mean 'name'?"),
        ({"filter": {"posts.title": "x"}}, "$some"),
        ({"filter": {"team": {"$some": {}}}}, "filter its fields"),
        ({"filter": {"posts": {"$any": {}}}}, "$some"),
        ({"order_by": ["team.nme"]}, "did you mean 'name'?"),
        ({"order_by": ["posts.title"]}, "unknown field 'posts.title'"),
    ],
)
def test_bad_relation_input_is_a_filter_error_naming_the_nearest_name(
    shop: DataFlow, params: dict[str, Any], message: str
) -> None:
    error = failure(shop, "MemberListNode", params)
    assert isinstance(error, FilterError)
    assert message in str(error)


def test_include_deeper_than_the_maximum_is_refused(dataflow_database_url: str) -> None:
    db = open_db(dataflow_database_url, max_include_depth=2)
    try:
        define_shop(db)
        error = failure(db, "PostListNode", {"include": ["member.team.owner"]})
        assert isinstance(error, FilterError) and "3 relations deep; the maximum is 2" in str(error)
        assert run_node(db, "PostListNode", {"include": ["member.team"]})["records"] == []
    finally:
        db.close()


def test_two_foreign_keys_to_one_model_need_their_reverse_names(dataflow_database_url: str) -> None:
    db = open_db(dataflow_database_url)
    try:

        @db.model
        class Person:
            name: str

        with pytest.raises(ConfigError, match=r"'messages' is ambiguous: Message\.sender_id and Message\.recipient_id"):

            @db.model
            class Message:
                sender_id: Person
                recipient_id: Person

        @db.model
        class Letter:
            sender_id: Person
            recipient_id: Person
            __dataflow__ = {"relations": {"sender_id": {"reverse": "sent"}, "recipient_id": {"reverse": "received"}}}

        assert {"sent", "received"} <= set(db.relations.of("Person"))
        assert "Message" not in db.schemas
    finally:
        db.close()


def test_a_relation_name_that_clashes_with_a_field_is_a_config_error(dataflow_database_url: str) -> None:
    db = open_db(dataflow_database_url)
    try:

        @db.model
        class Group:
            name: str

        with pytest.raises(ConfigError, match=r"relation 'group' .* has the name of a field"):

            @db.model
            class Seat:
                group: str
                group_id: Group
    finally:
        db.close()


@pytest.fixture
def scoped(dataflow_database_url: str) -> Iterator[DataFlow]:
    db = open_db(dataflow_database_url)
    yield db
    db.close()


def test_included_rows_skip_soft_deleted_ones(scoped: DataFlow) -> None:
    @scoped.model
    class Shelf:
        name: str

    @scoped.model
    class Book:
        title: str
        shelf_id: Shelf | None = None
        __dataflow__ = {"soft_delete": True}

    run_node(scoped, "ShelfCreateNode", {"name": "A"})
    run_node(
        scoped, "BookBulkCreateNode", {"data": [{"title": "kept", "shelf_id": 1}, {"title": "gone", "shelf_id": 1}]}
    )
    run_node(scoped, "BookDeleteNode", {"id": 2})
    shelf = run_node(scoped, "ShelfReadNode", {"id": 1, "include": ["books"]})
    assert [b["title"] for b in shelf["books"]] == ["kept"]
    assert records(scoped, "Shelf", filter={"books": {"$some": {"title": "gone"}}}) == []
