"""Fixtures and helpers the compliance suite (and dialect packages' own tests) share."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any

import pytest

from ..database import DataFlow
from ..errors import WorkflowError
from ..fields import MaxLength
from ..loops import run_sync
from ..workflow import LocalRuntime, WorkflowBuilder


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.Enum):
    LOW = 1
    HIGH = 2


def open_db(url: str, **options: Any) -> DataFlow:
    return DataFlow(url, env="test", **options)


@pytest.fixture
def db(dataflow_database_url: str) -> Iterator[DataFlow]:
    """A DataFlow on the dialect's empty test database, closed after the test."""
    instance = open_db(dataflow_database_url)
    yield instance
    instance.close()


@pytest.fixture
def users(db: DataFlow) -> DataFlow:
    """``db`` with the Team and User models."""
    define_people(db)
    return db


def define_people(db: DataFlow) -> None:
    """Team and User: the models most tests use."""

    @db.model
    class Team:
        name: Annotated[str, MaxLength(100)]

    @db.model
    class User:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(200)]
        age: int = 0
        active: bool = True
        score: float | None = None
        team_id: Team | None = None
        __dataflow__ = {"unique": [("email",)], "indexes": [("age",)]}


def define_kinds(db: DataFlow) -> None:
    """One field of every kind DataFlow supports."""

    @db.model
    class Kinds:
        text: Annotated[str, MaxLength(200)]
        number: int
        real: float
        flag: bool
        blob: bytes
        amount: decimal.Decimal
        moment: dt.datetime
        day: dt.date
        clock: dt.time
        ident: uuid.UUID
        doc: dict  # type: ignore[type-arg]
        items: list  # type: ignore[type-arg]
        color: Color
        priority: Priority
        note: str | None = None


def run_node(db: DataFlow, node: str, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
    """Run a one-node workflow of ``db.nodes[node]`` and return its output."""
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes[node], "node", dict(params or {}))
    results, _ = LocalRuntime().execute(workflow.build(), **options)
    return results["node"]


def failure(db: DataFlow, node: str, params: Mapping[str, Any] | None = None, **options: Any) -> BaseException:
    """The cause of the ``WorkflowError`` a one-node workflow raises (the test fails if it does not)."""
    with pytest.raises(WorkflowError) as info:
        run_node(db, node, params, **options)
    assert info.value.cause is not None
    return info.value.cause


def count(db: DataFlow, model: str, filter: Mapping[str, Any] | None = None) -> int:
    result = run_node(db, f"{model}CountNode", {"filter": dict(filter)} if filter else {})
    return int(result["count"])


def records(db: DataFlow, model: str, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("order_by", ["id"])
    return list(run_node(db, f"{model}ListNode", params)["records"])


def require(db: DataFlow, capability: str) -> None:
    """Skip the test unless the dialect declares ``capability`` (known once a pool has met the server)."""
    run_sync(db.pool)
    value = getattr(db.dialect.capabilities, capability)
    if not value:
        pytest.skip(f"{db.dialect.name} does not declare the {capability!r} capability")


def people(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"name": f"user{i}", "email": f"user{i}@example.com", "age": i % 90} for i in range(start, start + n)]


_DRIVER_IMPORTS = """
import importlib, json, sys
drivers = json.loads(sys.argv[3])
loaded = lambda: sorted(m for m in drivers if m in sys.modules)
importlib.import_module(sys.argv[1])
imported = loaded()
from dataflow import DataFlow
from dataflow.loops import run_sync
db = DataFlow(sys.argv[2])
made = loaded()
run_sync(db.pool)
pooled = loaded()
db.close()
print(json.dumps([imported, made, pooled]))
"""


def driver_imports(package: str, url: str, drivers: Sequence[str]) -> list[list[str]]:
    """Which of ``drivers`` a fresh interpreter has loaded after importing ``package``, after ``DataFlow(url)``,
    and after its first pool opened (a dialect imports its driver only when a pool needs it)."""
    finished = subprocess.run(
        [sys.executable, "-c", _DRIVER_IMPORTS, package, url, json.dumps(list(drivers))],
        capture_output=True,
        text=True,
        check=True,
    )
    stages: list[list[str]] = json.loads(finished.stdout)
    return stages
