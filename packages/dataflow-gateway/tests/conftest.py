"""Fixtures: a gateway over a fresh database on every backend, and an in-process HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gateway_helpers import define_shop
from starlette.testclient import TestClient

from dataflow import DataFlow
from dataflow.testing.servers import any_database_url, postgres_session_database, server_database_url
from dataflow_gateway import create_gateway

__all__ = ["any_database_url", "postgres_session_database", "server_database_url"]


@pytest.fixture
def db(any_database_url: str) -> Iterator[DataFlow]:
    instance = DataFlow(any_database_url, env="test")
    define_shop(instance)
    yield instance
    instance.close()


@pytest.fixture
def client(db: DataFlow) -> Iterator[TestClient]:
    with TestClient(create_gateway(db, max_limit=100, max_body=2_000_000)) as http:
        yield http
