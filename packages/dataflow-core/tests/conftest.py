from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dataflow import DataFlow


@pytest.fixture
def db(tmp_path: Path) -> Iterator[DataFlow]:
    """A DataFlow on a fresh SQLite file (the core's tests need some real database)."""
    instance = DataFlow(f"sqlite:///{tmp_path / 'core.db'}", env="test")
    yield instance
    instance.close()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATAFLOW_DATABASE_URL", "DATABASE_URL", "DATAFLOW_ENV", "DATAFLOW_POOL_SIZE"):
        monkeypatch.delenv(name, raising=False)
