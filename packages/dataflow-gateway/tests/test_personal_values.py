"""Personal values sent to the gateway stay out of its problem documents, its spans and the log."""

from __future__ import annotations

import json
import logging
from typing import Annotated

import pytest
from starlette.testclient import TestClient

from dataflow import DataFlow, MaxLength, Personal
from dataflow_gateway import create_gateway

pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk is not installed")
pytest.importorskip("dataflow_monitor", reason="dataflow-monitor makes the node and statement spans")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dataflow_monitor import Monitor

SECRET = "ann.secret@example.com"
PHONE = "4915550123"


def test_no_personal_value_reaches_problem_documents_spans_or_logs(
    any_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    db = DataFlow(any_database_url, env="test", echo=True)

    @db.model
    class Member:
        email: Annotated[str, MaxLength(40), Personal()]
        phone: Annotated[int, Personal()] = 0
        __dataflow__ = {"unique": [("email",)]}

    try:
        Monitor.of(db).configure(tracer_provider=provider, slow_query_seconds=0.0)
        problems = []
        with TestClient(create_gateway(db, tracer_provider=provider)) as client:
            created = client.post("/api/member", json={"email": SECRET, "phone": int(PHONE)})
            assert created.status_code == 201, created.text
            found = client.get("/api/member", params={"filter": json.dumps({"email": SECRET})})
            assert found.status_code == 200 and found.json()["count"] == 1
            for response in (
                client.post("/api/member", json={"email": SECRET}),  # a duplicate
                client.post("/api/member", json={"email": SECRET * 3}),  # too long
                client.post("/api/member", json={"email": "b@example.com", "phone": f"tel {PHONE}"}),  # not an int
                client.get("/api/member", params={"filter": json.dumps({"phone": {"$gt": SECRET}})}),
                client.patch(f"/api/member/{created.json()['id']}", json={"email": SECRET * 3}),
            ):
                assert 400 <= response.status_code < 500, response.text
                problems.append(response.text)
        spans = exporter.get_finished_spans()
        seen = {
            "problem documents": "\n".join(problems),
            "spans": repr(
                [(s.name, dict(s.attributes or {}), [dict(e.attributes or {}) for e in s.events]) for s in spans]
            ),
            "logs": "\n".join(record.getMessage() for record in caplog.records),
        }
        assert len(spans) > 7 and "INSERT INTO" in seen["spans"]
        for where, text in seen.items():
            assert SECRET not in text and PHONE not in text, f"a personal value reached the {where}"
    finally:
        db.close()
