"""OpenTelemetry server spans per request, parents of the node and statement spans dataflow-monitor makes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from dataflow import DataFlow
from dataflow_gateway import create_gateway

pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk is not installed")
pytest.importorskip("dataflow_monitor", reason="dataflow-monitor makes the node and statement spans")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from dataflow_monitor import Monitor


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced(db: DataFlow, exporter: InMemorySpanExporter) -> Iterator[TestClient]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    Monitor.of(db).configure(tracer_provider=provider)
    with TestClient(create_gateway(db, tracer_provider=provider)) as http:
        yield http


def server_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]


def test_each_request_is_a_server_span_named_by_its_route_template(
    traced: TestClient, exporter: InMemorySpanExporter
) -> None:
    created = traced.post("/api/customers", json={"name": "Ann", "email": "ann@example.com"})
    traced.get(f"/api/customers/{created.json()['id']}")
    traced.get("/api/customers/999999")
    spans = server_spans(exporter)
    assert [s.name for s in spans] == ["POST /api/customers", "GET /api/customers/{key}", "GET /api/customers/{key}"]
    read, missing = spans[1], spans[2]
    assert read.attributes is not None and missing.attributes is not None
    assert read.attributes["http.route"] == "/api/customers/{key}"
    assert read.attributes["http.request.method"] == "GET"
    assert read.attributes["http.response.status_code"] == 200
    assert missing.attributes["http.response.status_code"] == 404
    assert spans[0].attributes is not None and spans[0].attributes["http.response.status_code"] == 201


def test_node_and_statement_spans_are_children_of_the_request_span(
    traced: TestClient, exporter: InMemorySpanExporter
) -> None:
    assert traced.post("/api/customers", json={"name": "Bo", "email": "bo@example.com"}).status_code == 201
    (request,) = server_spans(exporter)
    assert request.context is not None
    children = [
        s for s in exporter.get_finished_spans() if s.parent is not None and s.parent.span_id == request.context.span_id
    ]
    kinds = {s.kind for s in children}
    assert SpanKind.CLIENT in kinds, [s.name for s in exporter.get_finished_spans()]
    statement = next(s for s in children if s.kind is SpanKind.CLIENT)
    assert statement.context is not None and statement.context.trace_id == request.context.trace_id
    assert any(s.name == "CustomerCreateNode" for s in children)


def test_a_traceparent_header_makes_the_request_span_a_child_of_the_callers(
    traced: TestClient, exporter: InMemorySpanExporter
) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    traced.get("/api/customers", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    (request,) = server_spans(exporter)
    assert request.context is not None and request.parent is not None
    assert format(request.context.trace_id, "032x") == trace_id
    assert format(request.parent.span_id, "016x") == parent_id


def test_a_client_error_is_not_marked_as_a_server_error_on_the_span(
    traced: TestClient, exporter: InMemorySpanExporter
) -> None:
    response = traced.get("/api/customers", params={"filter": '{"age": {"$gte": "not a number"}}'})
    assert response.status_code in (400, 422)  # a bad filter is the client's error, not the server's
    (request,) = server_spans(exporter)
    assert request.status.status_code is not StatusCode.ERROR


def test_without_a_tracer_provider_no_span_is_made(db: DataFlow) -> None:
    gateway = create_gateway(db)  # no provider passed, and none configured globally
    with TestClient(gateway) as http:
        assert http.get("/api/customers").status_code == 200
    assert gateway.spans.tracer() is None
