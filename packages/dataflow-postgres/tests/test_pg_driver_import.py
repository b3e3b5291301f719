"""Importing dataflow_postgres, or making a DataFlow of a postgresql:// URL, imports no asyncpg; a pool does."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys
import dataflow_postgres
from dataflow import DataFlow
from dataflow.loops import run_sync
loaded = lambda: sorted(m for m in ("asyncpg", "aiomysql", "pymysql") if m in sys.modules)
imported = loaded()
db = DataFlow(sys.argv[1])
made = loaded()
run_sync(db.pool)
pooled = loaded()
db.close()
print(json.dumps([imported, made, pooled]))
"""


def test_the_driver_is_imported_when_the_first_pool_opens(dataflow_database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, dataflow_database_url], capture_output=True, text=True, check=True
    )
    imported, made, pooled = json.loads(result.stdout)
    assert imported == [] and made == []
    assert pooled == ["asyncpg"]
