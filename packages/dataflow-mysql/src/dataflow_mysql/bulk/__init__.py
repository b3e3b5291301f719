"""MySQL bulk strategies, offered by ``MySQLDialect.bulk_strategies``.

Multi-row INSERT sized to the packet, measured upserts, LOAD DATA LOCAL INFILE.

BulkUpdate and BulkDelete use the core's generic strategies, which run fast
here because the MySQL connection pipelines ``executemany`` (many statements
per round trip) and key lists fit one statement.
"""

from __future__ import annotations

from dataflow.bulk.strategy import BulkStrategy

from .insert import MultiRowInsert
from .load_data import LoadDataInsert
from .upsert import CountedUpsert

STRATEGIES: tuple[BulkStrategy, ...] = (MultiRowInsert(), CountedUpsert(), LoadDataInsert())

__all__ = ["STRATEGIES", "CountedUpsert", "LoadDataInsert", "MultiRowInsert"]
