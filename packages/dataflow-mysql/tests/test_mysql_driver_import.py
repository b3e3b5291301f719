"""Importing dataflow_mysql, or making a DataFlow of a mysql:// URL, imports no aiomysql or PyMySQL; a pool does."""

from __future__ import annotations

from dataflow.testing.helpers import driver_imports

DRIVERS = ("asyncpg", "aiomysql", "pymysql")


def test_the_driver_is_imported_when_the_first_pool_opens(dataflow_database_url: str) -> None:
    imported, made, pooled = driver_imports("dataflow_mysql", dataflow_database_url, DRIVERS)
    assert imported == [] and made == []
    assert pooled == ["aiomysql", "pymysql"]
