"""Helpers of the replica tests: writes that bypass DataFlow, and the backend of a pair."""

from __future__ import annotations

import asyncio
from typing import Any

from replica_sql import pg_execute

from dataflow import DataFlow
from dataflow.testing.replication import MariaDBPair
from dataflow.url import DatabaseURL


def write_behind_dataflows_back(db: DataFlow, pair: Any, sql: str) -> None:
    """Run ``sql`` on the primary with a driver of its own: no DataFlow caller context knows of it."""
    if isinstance(pair, MariaDBPair):
        pair.sql("primary", f"USE `{db.url.database}`", sql)
        return
    schema = DatabaseURL.parse(str(db.url)).options["schema"]
    asyncio.run(pg_execute(pair.primary_url, f'SET search_path TO "{schema}"', sql))


def table(db: DataFlow, model: str) -> str:
    return db.dialect.quote(db.schema(model).table)
