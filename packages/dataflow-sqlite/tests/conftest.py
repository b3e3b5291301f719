from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def dataflow_database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file per test, removed with the test's temporary directory."""
    yield f"sqlite:///{tmp_path / 'compliance.db'}"
