"""``import dataflow`` loads no node machinery (a fifth of its import time); the first model does."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys
import dataflow
nodes = lambda: sorted(m for m in ("dataflow.nodes.generate", "dataflow.nodes.bulk", "dataflow.nodes.crud",
                                   "dataflow.bulk.generic") if m in sys.modules)
imported = nodes()
db = dataflow.DataFlow("sqlite:///:memory:")

@db.model
class Item:
    name: str

modelled = nodes()
record = db.express_sync.create("Item", {"name": "a"})
print(json.dumps([imported, modelled, sorted(db.nodes)[:2], record]))
"""


def test_import_dataflow_loads_the_node_modules_only_with_the_first_model() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    imported, modelled, names, record = json.loads(result.stdout)
    assert imported == []
    assert modelled == [
        "dataflow.bulk.generic",
        "dataflow.nodes.bulk",
        "dataflow.nodes.crud",
        "dataflow.nodes.generate",
    ]
    assert names == ["ItemAggregateNode", "ItemBulkCreateNode"]
    assert record == {"id": 1, "name": "a"}


def test_the_lazily_exported_names_of_dataflow_nodes_resolve() -> None:
    from dataflow import nodes  # noqa: PLC0415 - the lazy names are what is tested

    assert "Create" in nodes.OPERATIONS
    assert callable(nodes.model_nodes)
