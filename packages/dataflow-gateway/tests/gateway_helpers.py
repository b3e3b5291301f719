"""The models the gateway tests serve."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from dataflow import DataFlow, MaxLength


def define_shop(db: DataFlow) -> None:
    @db.model
    class Team:
        name: Annotated[str, MaxLength(50)]

    @db.model
    class Customer:
        name: Annotated[str, MaxLength(50)]
        email: Annotated[str, MaxLength(100)]
        age: int = 0
        balance: Decimal = Decimal("0")
        joined: dt.datetime | None = None
        password_hash: str = ""
        created_by: str = "system"
        team_id: Team | None = None
        __dataflow__ = {
            "unique": [("email",)],
            "api": {"path": "customers", "hidden": ["password_hash"], "read_only": ["created_by"]},
        }

    @db.model
    class Document:
        title: Annotated[str, MaxLength(50)]
        __dataflow__ = {"versioned": True}
