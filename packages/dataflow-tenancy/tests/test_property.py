"""Property: random sequences of the eleven node types, run as random tenants, never cross a tenant.

After every step, seen through an admin-scope read of the whole table:

- no row of another tenant was changed, added or removed;
- every new row belongs to the step's tenant;
- what Read, List and Count returned, and what Update, Delete and the bulk
  nodes counted, concerns only the step's tenant's rows (compared with the
  table before the step, filtered in Python);
- a row naming another tenant is refused.

SQLite runs many examples; PostgreSQL and MariaDB fewer, to keep the run short.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tenancy_helpers import backend, everything, run

from dataflow import DataFlow, UniqueViolationError, ValidationError, WorkflowError
from dataflow.bulk.strategy import BulkRequest, offered_strategies, registered_bulk_strategies
from dataflow_tenancy import TenancyError, TenantMismatchError

TENANTS = ("acme", "globex", "initech")
EMAILS = tuple(f"e{i}@x" for i in range(4))
EXAMPLES = {"sqlite": 100, "postgresql": 20, "mysql": 20}
ADMIN = {"tenant_admin": "property check"}

Row = dict[str, Any]
Table = dict[int, Row]


def matches(row: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    """The few filter shapes the property uses, evaluated in Python."""
    for key, value in condition.items():
        if key == "$or":
            if not any(matches(row, c) for c in value):
                return False
        elif key == "$not":
            if matches(row, value):
                return False
        elif isinstance(value, Mapping):
            for op, operand in value.items():
                if (op == "$gte" and not row[key] >= operand) or (op == "$lt" and not row[key] < operand):
                    return False
        elif row[key] != value:
            return False
    return True


def filters(tenant: str, other: str) -> list[dict[str, Any]]:
    return [
        {},
        {"score": {"$gte": 1}},
        {"email": EMAILS[0]},
        {"tenant_id": other},
        {"$or": [{"tenant_id": other}, {"score": {"$lt": 2}}]},
        {"$not": {"tenant_id": tenant}},
    ]


def snapshot(db: DataFlow) -> Table:
    return {row["id"]: row for row in everything(db, "Customer")}


def applicable_strategies(db: DataFlow) -> dict[str, list[str | None]]:
    """Per bulk operation, None (the node's choice) and every strategy that can run on ``db``."""
    table = db.table_sql(db.schema("Customer"))
    names: dict[str, list[str | None]] = {}
    for operation in ("create", "update", "delete", "upsert"):
        request = BulkRequest(operation, table)
        runnable = {
            s.name
            for s in offered_strategies(registered_bulk_strategies(), db.dialect)
            if s.operation == operation and s.cannot_run(db.dialect, request) is None
        }
        names[operation] = [None, *sorted(runnable)]
    return names


class Step:
    """One drawn node run: its node, parameters and tenant, and what it may legitimately raise."""

    def __init__(self, node: str, params: dict[str, Any], tenant: str, foreign_row: bool = False) -> None:
        self.node = node
        self.params = params
        self.tenant = tenant
        self.foreign_row = foreign_row

    def __repr__(self) -> str:
        return f"Step({self.node!r}, {self.params!r}, tenant={self.tenant!r})"


def draw_step(data: st.DataObject, table: Table, strategies: dict[str, list[str | None]]) -> Step:
    tenant = data.draw(st.sampled_from(TENANTS), label="tenant")
    other = data.draw(st.sampled_from([t for t in TENANTS if t != tenant]), label="other")
    fresh = max(table, default=0) + 1000
    ids = sorted(table) + [fresh, fresh + 1, fresh + 2]  # keys no row has yet
    key = st.sampled_from(ids)
    email = st.sampled_from(EMAILS)
    score = st.integers(0, 3)
    condition = st.sampled_from(filters(tenant, other))
    business_key = [["tenant_id", "email"], ["email"]]
    kind = data.draw(st.sampled_from(
        ["Create", "Read", "Update", "Delete", "List", "Count", "Upsert",
         "BulkCreate", "BulkUpdate", "BulkDelete", "BulkUpsert"]
    ), label="node")  # fmt: skip
    node = f"Customer{kind}Node"
    draw = data.draw
    if kind == "Create":
        named = draw(st.sampled_from([None, tenant, other]), label="names tenant")
        params: dict[str, Any] = {"name": "n", "email": draw(email), "score": draw(score)}
        if named is not None:
            params["tenant_id"] = named
        return Step(node, params, tenant, foreign_row=named == other)
    if kind == "Read":
        return Step(node, {"id": draw(key), "raise_on_not_found": False}, tenant)
    if kind in ("Update", "Delete"):
        if draw(st.booleans(), label="by id"):
            params = {"id": draw(key), "raise_on_not_found": False}
        else:
            params = {"filter": draw(condition)}
        if kind == "Update":
            params["fields"] = {"score": draw(score)}
        return Step(node, params, tenant)
    if kind in ("List", "Count"):
        return Step(node, {"filter": draw(condition)}, tenant)
    if kind == "Upsert":
        params = {"name": "u", "email": draw(email), "score": draw(score)}
        if draw(st.booleans(), label="by id"):
            params |= {"id": draw(key), "conflict_on": ["id"]}
        else:
            params["conflict_on"] = draw(st.sampled_from(business_key))
        return Step(node, params, tenant)
    strategy = draw(st.sampled_from(strategies[_OPERATION[kind]]), label="strategy")
    extra = {"strategy": strategy} if strategy else {}
    if kind == "BulkCreate":
        emails = draw(st.lists(email, max_size=3, unique=True), label="emails")
        named = draw(st.sampled_from([None, tenant, other]), label="names tenant")
        rows = [{"name": "b", "email": e, "score": draw(score)} for e in emails]
        if rows and named is not None:
            rows[-1]["tenant_id"] = named
        params = {"data": rows, **extra}
        if draw(st.booleans(), label="skip existing"):
            params["conflict_on"] = ["tenant_id", "email"]
        return Step(node, params, tenant, foreign_row=bool(rows) and named == other)
    if kind == "BulkUpdate":
        if draw(st.booleans(), label="by filter"):
            return Step(node, {"filter": draw(condition), "fields": {"score": draw(score)}, "confirmed": True}, tenant)
        chosen = draw(st.lists(key, max_size=3, unique=True), label="ids")
        return Step(node, {"data": [{"id": i, "score": draw(score)} for i in chosen], **extra}, tenant)
    if kind == "BulkDelete":
        if draw(st.booleans(), label="by filter"):
            return Step(node, {"filter": draw(condition), "confirmed": True}, tenant)
        return Step(node, {"ids": draw(st.lists(key, max_size=3, unique=True), label="ids"), **extra}, tenant)
    by_id = draw(st.booleans(), label="by id")
    emails = draw(st.lists(email, max_size=3, unique=True), label="emails")
    rows = [{"name": "bu", "email": e, "score": draw(score)} for e in emails]
    if by_id:
        chosen = draw(st.lists(key, min_size=len(rows), max_size=len(rows), unique=True), label="ids")
        rows = [{**row, "id": i} for row, i in zip(rows, chosen, strict=True)]
    conflict_on = ["id"] if by_id else ["tenant_id", "email"]
    return Step(node, {"data": rows, "conflict_on": conflict_on, **extra}, tenant)


_OPERATION = {"BulkCreate": "upsert", "BulkUpdate": "update", "BulkDelete": "delete", "BulkUpsert": "upsert"}


def own(table: Table, tenant: str, condition: Mapping[str, Any] | None = None) -> dict[int, Row]:
    return {k: r for k, r in table.items() if r["tenant_id"] == tenant and matches(r, condition or {})}


def check_output(step: Step, output: Any, before: Table, after: Table) -> None:
    """What the node returned concerns only the step's tenant's rows."""
    tenant, params = step.tenant, step.params
    mine = own(before, tenant, params.get("filter"))
    name = step.node.removeprefix("Customer").removesuffix("Node")
    if name in ("Read", "Create") or (name == "Update" and "id" in params):
        assert output is None or (output["tenant_id"] == tenant and output == after[output["id"]])
        if name != "Create" and params["id"] in before and before[params["id"]]["tenant_id"] != tenant:
            assert output is None
    elif name == "List":
        assert sorted(r["id"] for r in output["records"]) == sorted(mine)
    elif name == "Count":
        assert output == {"count": len(mine)}
    elif name in ("Update", "BulkUpdate") and "filter" in params:
        assert output == {"updated": len(mine)}
    elif name in ("Delete", "BulkDelete") and "filter" in params:
        assert output == {"deleted": len(mine)}
    elif name == "Delete":
        assert output == {"deleted": int(params["id"] in own(before, tenant))}
    elif name == "BulkDelete":
        assert output == {"deleted": len(set(params["ids"]) & set(own(before, tenant)))}
    elif name == "BulkUpdate":
        assert output == {"updated": len({r["id"] for r in params["data"]} & set(own(before, tenant)))}
    elif name == "Upsert":
        assert output["record"]["tenant_id"] == tenant


def check_step(db: DataFlow, step: Step, allowed: Callable[[BaseException], bool]) -> None:
    before = snapshot(db)
    try:
        output = run(db, step.node, step.params, tenant=step.tenant)
    except WorkflowError as error:
        cause = error.cause
        assert cause is not None and allowed(cause), (step, cause)
        if step.foreign_row:
            assert isinstance(cause, TenantMismatchError), (step, cause)
        assert snapshot(db) == before, step
        return
    assert not step.foreign_row, f"{step} wrote a row naming another tenant"
    after = snapshot(db)
    others_before = {k: r for k, r in before.items() if r["tenant_id"] != step.tenant}
    others_after = {k: r for k, r in after.items() if r["tenant_id"] != step.tenant}
    assert others_after == others_before, f"{step} changed another tenant's rows"
    assert all(after[k]["tenant_id"] == step.tenant for k in set(after) - set(before)), step
    check_output(step, output, before, after)


def allowed_error(error: BaseException) -> bool:
    # Conflicts with keys the tenant cannot see, a repeated key in one batch, MySQL's need for a
    # unique conflict target, an id the tenant chose, a row naming another tenant: refusals, never leaks.
    if isinstance(error, TenancyError):
        return isinstance(error, TenantMismatchError)
    return isinstance(error, (UniqueViolationError, ValidationError))


def test_random_node_sequences_never_cross_a_tenant(db: DataFlow) -> None:
    run(db, "CustomerCountNode", {}, tenant="acme")  # meet the server: capabilities and strategies depend on it
    strategies = applicable_strategies(db)

    @settings(
        max_examples=EXAMPLES.get(backend(db), 10),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def sequence(data: st.DataObject) -> None:
        run(db, "CustomerBulkDeleteNode", {"filter": {}, "confirmed": True}, context=ADMIN)
        for tenant in TENANTS[:2]:
            seed = [{"name": "s", "email": e, "score": i} for i, e in enumerate(EMAILS[:2])]
            run(db, "CustomerBulkCreateNode", {"data": seed}, tenant=tenant)
        for _ in range(data.draw(st.integers(1, 12), label="steps")):
            step = draw_step(data, snapshot(db), strategies)
            check_step(db, step, allowed_error)

    sequence()
