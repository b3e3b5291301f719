"""Relations and aggregates stay inside the tenant: includes, relation filters and AggregateNode, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from tenancy_helpers import open_db, run

from dataflow import DataFlow, LocalRuntime, MaxLength, WorkflowBuilder, WorkflowError
from dataflow_tenancy import TenantRequiredError


@pytest.fixture
def shop(any_database_url: str) -> Iterator[DataFlow]:
    """Two tenants' teams and members; member 'mallory' of tenant b points at tenant a's team."""
    db = open_db(any_database_url)

    @db.model
    class Team:
        name: Annotated[str, MaxLength(50)]
        __dataflow__ = {"multi_tenant": True}

    @db.model
    class Member:
        name: Annotated[str, MaxLength(50)]
        points: int = 0
        team_id: Team | None = None
        __dataflow__ = {"multi_tenant": True}

    run(db, "TeamCreateNode", {"name": "a-team"}, tenant="a")
    run(db, "MemberBulkCreateNode", {"data": [{"name": "ann", "points": 5, "team_id": 1}]}, tenant="a")
    run(db, "TeamCreateNode", {"name": "b-team"}, tenant="b")
    run(db, "MemberCreateNode", {"name": "bob", "points": 7, "team_id": 2}, tenant="b")
    # Written as admin: a row of b that refers to a's team, as a leak would need.
    run(db, "MemberCreateNode", {"name": "mallory", "points": 100, "team_id": 1, "tenant_id": "b"},
        context={"tenant_admin": "test setup"})  # fmt: skip
    yield db
    db.close()


def test_a_forward_include_never_shows_another_tenants_record(shop: DataFlow) -> None:
    rows = run(shop, "MemberListNode", {"include": ["team"], "order_by": ["name"]}, tenant="b")["records"]
    assert {r["name"]: (r["team"] or {}).get("name") for r in rows} == {"bob": "b-team", "mallory": None}


def test_a_reverse_include_lists_only_the_tenants_rows(shop: DataFlow) -> None:
    team = run(shop, "TeamReadNode", {"id": 1, "include": ["members"]}, tenant="a")
    assert [m["name"] for m in team["members"]] == ["ann"]


def test_relation_filters_and_ordering_see_only_the_tenants_rows(shop: DataFlow) -> None:
    found = run(shop, "MemberListNode", {"filter": {"team.name": "a-team"}}, tenant="b")["records"]
    assert found == []
    teams = run(shop, "TeamListNode", {"filter": {"members": {"$some": {"points": {"$gte": 100}}}}}, tenant="a")
    assert teams["records"] == []


def test_aggregates_count_only_the_tenants_rows_and_relation_groups(shop: DataFlow) -> None:
    params: dict[str, Any] = {"group_by": ["team.name"], "aggregates": {"points": {"$sum": "points"}}}
    groups = run(shop, "MemberAggregateNode", params, tenant="b")["groups"]
    assert {g["team.name"]: g["points"] for g in groups} == {"b-team": 7, None: 100}
    total = run(shop, "MemberAggregateNode", {"aggregates": {"n": {"$count": "*"}}}, tenant="a")["groups"]
    assert total == [{"n": 1}]


def test_the_direct_api_runs_under_the_ambient_tenant_and_fails_closed_without_one(shop: DataFlow) -> None:
    with shop.tenant("a"):
        assert [m["name"] for m in shop.express_sync.list("Member")["records"]] == ["ann"]
        created = shop.express_sync.create("Member", {"name": "amy"})
        assert created["tenant_id"] == "a"
    with shop.tenant("b"):
        assert shop.express_sync.read("Member", created["id"], raise_on_not_found=False) is None
        assert shop.express_sync.count("Member") == {"count": 2}
    with pytest.raises(TenantRequiredError):
        shop.express_sync.list("Member")


def test_raw_sql_in_a_tenant_run_is_refused_before_it_reaches_the_database(shop: DataFlow) -> None:
    table = shop.dialect.quote(shop.schema("Member").table)

    def sql_node(query: str, **options: Any) -> Any:
        workflow = WorkflowBuilder()
        workflow.add_node("SQLNode", "sql", {"query": query, "database": shop})
        return LocalRuntime().execute(workflow.build(), **options)[0]["sql"]

    with shop.tenant("a"), pytest.raises(TenantRequiredError, match="raw SQL cannot be narrowed to tenant 'a'"):
        shop.sql(f"UPDATE {table} SET points = 0", result="none")
    with pytest.raises(WorkflowError) as failed:
        sql_node(f"SELECT * FROM {table}", tenant="b")
    assert isinstance(failed.value.cause, TenantRequiredError)
    with pytest.raises(TenantRequiredError):
        shop.sql(f"SELECT * FROM {table}")
    rows = sql_node(f"SELECT name FROM {table} ORDER BY name", context={"tenant_admin": "report"})["rows"]
    assert [r["name"] for r in rows] == ["ann", "bob", "mallory"]
    assert [r["points"] for r in run(shop, "MemberListNode", {"order_by": ["name"]}, tenant="b")["records"]] == [7, 100]
