"""``enable_monitoring=True``: ``/metrics`` (Prometheus) and ``/health`` from dataflow-monitor, and request counts.

Requests are counted by route template (``/api/users/{key}``, never the path
itself) and status, so the label set stays bounded whatever clients send.
The counter lives in the gateway's own registry, merged into the monitor's
at scrape time: two gateways in one process never share a metric.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from dataflow import DataFlow
from dataflow_monitor import HealthCheck
from dataflow_monitor.exporters import MergedCollector, registry_for

from .codec import dumps


class RequestMetrics:
    """Requests and their latency by route template and status."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("dataflow_gateway_requests", "HTTP requests served", ["route", "method", "status"],
                                registry=self.registry)  # fmt: skip
        self.seconds = Histogram("dataflow_gateway_request_seconds", "HTTP request latency", ["route", "method"],
                                 registry=self.registry)  # fmt: skip

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.seconds.labels(route, method).observe(seconds)


class Monitoring:
    """The two routes, over one database's monitor."""

    def __init__(self, db: DataFlow) -> None:
        self.db = db
        self.metrics = RequestMetrics()
        merged = CollectorRegistry(auto_describe=False)
        merged.register(MergedCollector([registry_for(db), self.metrics.registry]))
        self.registry = merged

    async def metrics_route(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def health_route(self, request: Request) -> Response:
        report: Any = await HealthCheck.of(self.db)()
        status = 200 if report.healthy else 503
        headers = {} if report.healthy else {"Retry-After": "5"}
        return Response(dumps(report.as_dict()), status_code=status, media_type="application/json", headers=headers)
