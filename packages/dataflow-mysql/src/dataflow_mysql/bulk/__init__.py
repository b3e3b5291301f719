"""MySQL bulk strategies: multi-row INSERT sized to the packet, measured upserts, LOAD DATA LOCAL INFILE.

BulkUpdate and BulkDelete use the core's generic strategies, which run fast
here because the MySQL connection pipelines ``executemany`` (many statements
per round trip) and key lists fit one statement.
"""

from __future__ import annotations

from typing import Any

from .insert import MultiRowInsert
from .load_data import LoadDataInsert
from .upsert import CountedUpsert

STRATEGIES: tuple[Any, ...] = (MultiRowInsert(), CountedUpsert(), LoadDataInsert())

__all__ = ["STRATEGIES", "CountedUpsert", "LoadDataInsert", "MultiRowInsert"]
