"""OpenTelemetry server spans, one per request, when ``opentelemetry-api`` is importable and a provider is set.

The span is named by the route template (``GET /api/customers/{key}``, never
the path, so span names stay bounded) and carries the method, the route and
the response status. It is the current span while the handler runs, so the
node and statement spans dataflow-monitor makes are its children; an incoming
W3C ``traceparent`` header makes it the child of the caller's span.
Without a configured tracer provider nothing is made.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:  # opentelemetry is optional
        return None


trace: Any = _import("opentelemetry.trace")
propagate: Any = _import("opentelemetry.propagate")

Handler = Callable[[Request], Awaitable[Response]]


class ServerSpans:
    """Makes a server span around each request of one gateway."""

    def __init__(self, provider: Any = None) -> None:
        self._provider = provider
        self._tracer: Any = None

    def tracer(self) -> Any:
        """The tracer, or None while opentelemetry is missing or no tracer provider is configured."""
        if self._tracer is not None:
            return self._tracer
        if trace is None:
            return None
        provider = self._provider if self._provider is not None else trace.get_tracer_provider()
        if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
            return None  # asked again next request: the application may configure one later
        self._tracer = provider.get_tracer("dataflow_gateway")
        return self._tracer

    def wrap(self, template: str, method: str, handler: Handler) -> Handler:
        """``handler`` inside a server span named ``"{method} {template}"``."""
        if trace is None:
            return handler
        name = f"{method} {template}"

        async def traced(request: Request) -> Response:
            tracer = self.tracer()
            if tracer is None:
                return await handler(request)
            parent = propagate.extract(dict(request.headers)) if propagate is not None else None
            attributes = {"http.request.method": method, "http.route": template, "url.path": request.url.path}
            with tracer.start_as_current_span(
                name, context=parent, kind=trace.SpanKind.SERVER, attributes=attributes
            ) as span:
                response = await handler(request)
                span.set_attribute("http.response.status_code", response.status_code)
                if response.status_code >= 500:
                    span.set_status(trace.Status(trace.StatusCode.ERROR))
                return response

        return traced
