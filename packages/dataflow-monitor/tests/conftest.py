"""Fixtures: fresh databases on every backend (from dataflow.testing.servers); helpers are in monitor_helpers.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from dataflow.testing.servers import (  # noqa: F401 - fixtures
    any_database_url,
    postgres_session_database,
    server_database_url,
)


@pytest.fixture(autouse=True)
def monitor_never_fails(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test also checks that the monitor raised on no event (core logs and swallows those)."""
    caplog.set_level(logging.WARNING, logger="dataflow")
    yield
    failures = [r for r in caplog.records if r.name == "dataflow.monitor" and "failed on" in r.getMessage()]
    assert not failures, failures[0].getMessage()
