"""Statement text reaching monitors, snapshots, spans, the slow log and echo carries no values, on any strategy."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import monitor, one_node, run

from dataflow import DataFlow
from dataflow.bulk.strategy import offered_strategies, registered_bulk_strategies
from dataflow.errors import ValidationError

pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk is not installed")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

SECRET = "SSN-123-45-6789"
NUMBER = 987654321


def _define(db: DataFlow) -> None:
    @db.model
    class Person:
        name: str
        ssn: str
        pin: int = 0
        __dataflow__ = {"unique": [("name",)]}

    del Person


def _rows(tag: str) -> list[dict[str, Any]]:
    return [{"name": f"{tag}-{i}", "ssn": f"{SECRET}-{i}", "pin": NUMBER + i} for i in range(3)]


async def _every_strategy(db: DataFlow) -> list[str]:
    """Run each bulk strategy that applies here, forced by name; return the names that ran."""
    ran = []
    nodes = {"create": "PersonBulkCreateNode", "upsert": "PersonBulkUpsertNode", "update": "PersonBulkUpdateNode"}
    for index, strategy in enumerate(offered_strategies(registered_bulk_strategies(), db.dialect)):
        if strategy.operation not in nodes:
            continue
        for return_ids in (False, True):
            tag = f"s{index}{int(return_ids)}"
            params: dict[str, Any] = {"data": _rows(tag), "strategy": strategy.name}
            if strategy.operation == "create":
                params["return_ids"] = return_ids
            elif strategy.operation == "upsert":
                params["conflict_on"] = ["name"]
            else:
                made = one_node(db.nodes["PersonBulkCreateNode"], {"data": _rows(tag), "return_ids": True})
                ids = (await run(made))["n"]["ids"]
                params = {
                    "data": [{"id": i, "ssn": f"{SECRET}-u", "pin": NUMBER} for i in ids],
                    "strategy": strategy.name,
                }
            try:
                await run(one_node(db.nodes[nodes[strategy.operation]], params))
            except Exception as exc:  # a strategy that does not apply here is skipped
                cause = getattr(exc, "cause", exc)
                if isinstance(cause, ValidationError) and "cannot run" in str(cause):
                    continue
                raise
            ran.append(f"{strategy.operation}:{strategy.name}")
    return ran


def test_no_value_reaches_snapshots_spans_slow_log_or_echo_on_any_bulk_strategy(
    any_database_url: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = any_database_url
    if url.startswith("mysql"):
        url += "?local_infile=true"  # so that the load_data strategy runs too
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    caplog.set_level(logging.DEBUG, logger="dataflow")

    async def body() -> tuple[DataFlow, list[str]]:
        db = DataFlow(url, echo=True)
        _define(db)
        monitor(db).configure(slow_query_seconds=0.0, tracer_provider=provider)
        try:
            ran = await _every_strategy(db)
        finally:
            await db.close_async()
        return db, ran

    db, ran = asyncio.run(body())
    assert any(name.startswith("create:") for name in ran) and any(name.startswith("upsert:") for name in ran), ran
    if db.dialect.name == "mysql":
        assert {"create:mysql_values", "create:load_data", "upsert:mysql_upsert"} <= set(ran), ran
    seen = {
        "snapshot": json.dumps(monitor(db).snapshot(top=1000), default=str),
        "slow log": repr([entry.as_dict() for entry in monitor(db).slow.entries]),
        "spans": repr([dict(span.attributes or {}) for span in exporter.get_finished_spans()]),
        "logs": "\n".join(record.getMessage() for record in caplog.records),
        "stderr": capsys.readouterr().err,
    }
    assert "INSERT INTO" in seen["snapshot"] and "INSERT INTO" in seen["spans"]
    for where, text in seen.items():
        assert SECRET not in text, f"a value reached the {where}: ...{text[text.find(SECRET) - 200 :][:400]}"
        assert str(NUMBER) not in text, where
