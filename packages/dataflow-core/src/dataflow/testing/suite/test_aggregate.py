"""AggregateNode on a real database: groups, every function, having, ordering, types, relations and bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import pytest

from ...database import DataFlow
from ...errors import DataFlowError, FilterError, ValidationError
from ...fields import MaxLength
from ..helpers import failure, run_node


def define_sales(db: DataFlow) -> None:
    @db.model
    class Region:
        name: Annotated[str, MaxLength(50)]

    @db.model
    class Sale:
        country: Annotated[str, MaxLength(20)]
        amount: Decimal
        units: int
        rating: float | None = None
        region_id: Region | None = None


@pytest.fixture
def sales(db: DataFlow) -> DataFlow:
    define_sales(db)
    run_node(db, "RegionBulkCreateNode", {"data": [{"name": "Europe"}, {"name": "Americas"}]})
    rows = [
        {"country": "DE", "amount": Decimal("10.10"), "units": 1, "rating": 4.0, "region_id": 1},
        {"country": "DE", "amount": Decimal("0.20"), "units": 2, "rating": 5.0, "region_id": 1},
        {"country": "FR", "amount": Decimal("99999999999.99"), "units": 3, "region_id": 1},
        {"country": "US", "amount": Decimal("5.00"), "units": 4, "rating": 1.0, "region_id": 2},
        {"country": "US", "amount": Decimal("9.00"), "units": 10, "rating": 2.0, "region_id": 2},
        {"country": "US", "amount": Decimal("1.00"), "units": 1, "rating": 3.0},
    ]
    run_node(db, "SaleBulkCreateNode", {"data": rows})
    return db


def aggregate(db: DataFlow, **params: Any) -> dict[str, Any]:
    return dict(run_node(db, "SaleAggregateNode", params))


def test_without_group_by_there_is_one_group(sales: DataFlow) -> None:
    out = aggregate(sales, aggregates={"n": {"$count": "*"}, "units": {"$sum": "units"}})
    assert out == {"groups": [{"n": 6, "units": 21}], "count": 1}


def test_every_function_per_group_with_the_fields_types(sales: DataFlow) -> None:
    out = aggregate(
        sales,
        group_by=["country"],
        aggregates={
            "n": {"$count": "*"},
            "rated": {"$count": "rating"},
            "regions": {"$count_distinct": "region_id"},
            "revenue": {"$sum": "amount"},
            "mean": {"$avg": "units"},
            "low": {"$min": "amount"},
            "high": {"$max": "units"},
        },
        order_by=["country"],
    )
    de, fr, us = out["groups"]
    assert de == {"country": "DE", "n": 2, "rated": 2, "regions": 1, "revenue": Decimal("10.30"), "mean": 1.5,
                  "low": Decimal("0.20"), "high": 2}  # fmt: skip
    assert fr["revenue"] == Decimal("99999999999.99") and fr["rated"] == 0
    assert us["regions"] == 1 and us["mean"] == 5.0
    assert type(de["revenue"]) is Decimal and type(de["mean"]) is float and type(de["n"]) is int
    assert type(de["high"]) is int


def test_sums_of_an_empty_selection_are_null_and_counts_zero(sales: DataFlow) -> None:
    out = aggregate(sales, filter={"country": "XX"}, aggregates={"n": {"$count": "*"}, "s": {"$sum": "amount"}})
    assert out["groups"] == [{"n": 0, "s": None}]


def test_filter_having_order_by_and_limit(sales: DataFlow) -> None:
    out = aggregate(
        sales,
        filter={"units": {"$gte": 2}},
        group_by=["country"],
        aggregates={"n": {"$count": "*"}, "revenue": {"$sum": "amount"}},
        having={"revenue": {"$gt": Decimal("1")}},
        order_by=["-revenue"],
        limit=2,
    )
    assert [g["country"] for g in out["groups"]] == ["FR", "US"]
    assert out["count"] == 2


def test_having_on_counts_and_order_by_a_count(sales: DataFlow) -> None:
    out = aggregate(
        sales, group_by=["country"], aggregates={"n": {"$count": "*"}}, having={"n": {"$gte": 2}}, order_by=["-n"]
    )
    assert out["groups"] == [{"country": "US", "n": 3}, {"country": "DE", "n": 2}]


def test_group_by_a_forward_relation_field(sales: DataFlow) -> None:
    out = aggregate(sales, group_by=["region.name"], aggregates={"units": {"$sum": "units"}}, order_by=["region.name"])
    by_region = {g["region.name"]: g["units"] for g in out["groups"]}
    assert by_region == {"Europe": 6, "Americas": 14, None: 1}


def test_a_filter_through_a_relation_with_a_group_by_a_relation(sales: DataFlow) -> None:
    out = aggregate(
        sales, filter={"region.name": "Europe"}, group_by=["region.name", "country"],
        aggregates={"n": {"$count": "*"}}, order_by=["country"],
    )  # fmt: skip
    assert out["groups"] == [{"region.name": "Europe", "country": "DE", "n": 2},
                             {"region.name": "Europe", "country": "FR", "n": 1}]  # fmt: skip


def test_aggregate_values_are_bound_never_pasted(sales: DataFlow) -> None:
    out = aggregate(sales, filter={"country": "DE' OR '1'='1"}, aggregates={"n": {"$count": "*"}})
    assert out["groups"] == [{"n": 0}]


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"aggregates": {"s": {"$sum": "country"}}}, ValidationError, "$sum does not apply to 'country' (str)"),
        ({"aggregates": {"s": {"$sum": "amout"}}}, ValidationError, "did you mean 'amount'?"),
        ({"aggregates": {"s": {"$total": "units"}}}, ValidationError, "unknown function '$total'"),
        ({"aggregates": {"s": {"$sum": "units", "$avg": "units"}}}, ValidationError, "takes one function"),
        ({"aggregates": {}}, ValidationError, "aggregates takes an object"),
        ({"aggregates": {"bad name": {"$count": "*"}}}, ValidationError, "not an identifier"),
        (
            {"aggregates": {"n": {"$count": "*"}}, "having": {"m": 1}},
            FilterError,
            "having: unknown name 'm' (known: n)",
        ),
        ({"aggregates": {"n": {"$count": "*"}}, "having": {"n": "many"}}, FilterError, "n"),
        ({"aggregates": {"n": {"$count": "*"}}, "group_by": ["contry"]}, ValidationError, "did you mean 'country'?"),
        ({"aggregates": {"n": {"$count": "*"}}, "group_by": ["regin.name"]}, ValidationError, "no forward relation"),
        ({"aggregates": {"n": {"$count": "*"}}, "order_by": ["units"]}, FilterError, "neither a group_by field"),
        ({"aggregates": {"country": {"$count": "*"}}, "group_by": ["country"]}, ValidationError, "name of a group_by"),
        ({"aggregates": {"n": {"$count": "*"}}, "limit": -1}, ValidationError, "non-negative"),
    ],
)
def test_bad_aggregate_input_is_refused_before_sql_naming_what_to_fix(
    sales: DataFlow, params: dict[str, Any], error: type[DataFlowError], message: str
) -> None:
    cause = failure(sales, "SaleAggregateNode", params)
    assert isinstance(cause, error)
    assert message in str(cause)
