"""OpenTelemetry spans, where opentelemetry is installed (it is optional)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from monitor_helpers import define_item, monitor, one_node, run

from dataflow import DataFlow

pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk is not installed")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode


def test_statements_and_nodes_become_spans_with_their_sql_and_timing(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    async def body() -> None:
        db = DataFlow(f"sqlite:///{tmp_path}/spans.db")
        define_item(db)
        monitor(db).configure(tracer_provider=provider)
        try:
            await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
            with pytest.raises(Exception, match="not found"):
                await run(one_node(db.nodes["ItemReadNode"], {"id": 12345}))
        finally:
            await db.close_async()

    asyncio.run(body())
    spans = exporter.get_finished_spans()
    insert = next(s for s in spans if s.name == "create Item")
    assert insert.kind is SpanKind.CLIENT
    assert insert.attributes is not None
    assert str(insert.attributes["db.statement"]).startswith("INSERT INTO")
    assert insert.attributes["db.system"] == "sqlite"
    assert insert.end_time is not None and insert.start_time is not None and insert.end_time > insert.start_time
    node = next(s for s in spans if s.name == "ItemReadNode")
    assert node.status.status_code is StatusCode.ERROR


def test_without_a_tracer_provider_no_span_is_made(tmp_path: Path) -> None:
    async def body() -> None:
        db = DataFlow(f"sqlite:///{tmp_path}/nospans.db")
        define_item(db)
        try:
            await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
            spans = monitor(db).spans
            assert spans is not None and spans.tracer() is None
        finally:
            await db.close_async()

    asyncio.run(body())
