"""OpenTelemetry spans for statements and nodes, when ``opentelemetry-api`` is importable.

Events arrive when a statement or node has finished, so each span is made
after the fact with its real start and end times. It is a child of whatever
span is current in the task that ran the statement (a web request's, say).
Without a configured tracer provider nothing is made: the check for one is
repeated at most every :data:`RECHECK_SECONDS`, not per event.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

RECHECK_SECONDS = 5.0


def _import_trace() -> Any:
    try:
        return importlib.import_module("opentelemetry.trace")
    except ImportError:  # the package is optional
        return None


trace: Any = _import_trace()


def available() -> bool:
    return trace is not None


class Spans:
    """Makes spans from events for one instance."""

    def __init__(self, database: str, dialect: str, provider: Any = None) -> None:
        self.database = database
        self.system = {"postgresql": "postgresql", "mysql": "mysql", "sqlite": "sqlite"}.get(dialect, dialect)
        self._provider = provider
        self._tracer: Any = None
        self._next_check = 0.0
        self._names: dict[tuple[str | None, str | None], str] = {}

    def tracer(self) -> Any:
        """The tracer, or None while no tracer provider is configured."""
        if self._tracer is not None:
            return self._tracer
        now = time.monotonic()
        if trace is None or now < self._next_check:
            return None
        self._next_check = now + RECHECK_SECONDS
        provider = self._provider if self._provider is not None else trace.get_tracer_provider()
        if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
            return None
        self._tracer = provider.get_tracer("dataflow_monitor")
        return self._tracer

    def statement(self, event: Any) -> None:
        tracer = self.tracer()
        if tracer is None:
            return
        key = (event.model, event.operation)
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = " ".join(p for p in (event.operation, event.model) if p) or "statement"
        end = time.time_ns()
        attributes = {
            "db.system": self.system,
            "db.statement": event.sql,
            "db.name": self.database,
            "dataflow.model": event.model or "",
            "dataflow.operation": event.operation or "",
            "dataflow.run_id": event.run_id or "",
        }
        if event.rowcount is not None:
            attributes["db.rows_affected"] = event.rowcount
        span = tracer.start_span(
            name, kind=trace.SpanKind.CLIENT, start_time=end - int(event.duration * 1e9), attributes=attributes
        )
        if event.error is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, event.error))
            span.set_attribute("error.type", event.error)
        span.end(end_time=end)

    def node(self, event: Any) -> None:
        tracer = self.tracer()
        if tracer is None:
            return
        end = time.time_ns()
        span = tracer.start_span(
            event.node_type,
            start_time=end - int(event.duration * 1e9),
            attributes={"dataflow.node_id": event.node_id, "dataflow.run_id": event.run_id, "db.name": self.database},
        )
        if event.error is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, event.error))
            span.set_attribute("error.type", event.error)
        span.end(end_time=end)
