"""Serving the metrics: a registry over several instances, an ASGI app, a standalone HTTP server.

Nothing here runs unless called: ``metrics_app(db)`` returns an ASGI app to
mount in a web application; ``start_http_server(db, port=9464)`` starts a
thread serving ``/metrics`` (Prometheus text) and ``/snapshot`` (JSON).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, make_asgi_app
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from dataflow.errors import ConfigError

from .monitor import Monitor

if TYPE_CHECKING:
    from dataflow import DataFlow


def monitor_of(db: DataFlow) -> Monitor:
    """``db``'s monitor, or a ``ConfigError`` saying how to get one (the same as ``Monitor.of(db)``)."""
    return Monitor.of(db)


class MergedCollector(Collector):
    """The metric families of several instances' registries, same-named families merged into one."""

    def __init__(self, registries: Iterable[CollectorRegistry]) -> None:
        self.registries = list(registries)

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for registry in self.registries:
            for family in registry.collect():
                known = merged.get(family.name)
                if known is None:
                    merged[family.name] = family
                else:
                    known.samples.extend(family.samples)
        yield from merged.values()


def registry_for(*dbs: Any) -> CollectorRegistry:
    """A registry exposing the metrics of ``dbs`` (one instance's own registry when there is one)."""
    if len(dbs) == 1:
        registry: CollectorRegistry = monitor_of(dbs[0]).metrics.registry
        return registry
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MergedCollector(monitor_of(db).metrics.registry for db in dbs))
    return registry


def metrics_app(*dbs: Any) -> Any:
    """An ASGI app that answers every request with the Prometheus text of ``dbs``.

    Mount it at ``/metrics``; with Starlette: ``app.mount("/metrics", metrics_app(db))``.
    """
    if not dbs:
        raise ConfigError("metrics_app needs at least one DataFlow instance")
    return make_asgi_app(registry=registry_for(*dbs))


class MetricsServer:
    """A running standalone server; ``close()`` stops it."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        address = server.server_address
        self.host: str = str(address[0])
        self.port: int = int(address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_http_server(*dbs: Any, port: int = 9464, host: str = "127.0.0.1") -> MetricsServer:
    """Serve ``/metrics`` and ``/snapshot`` for ``dbs`` on a thread; ``port=0`` picks a free port.

    It binds to 127.0.0.1 unless told otherwise: the snapshot shows SQL text.
    """
    if not dbs:
        raise ConfigError("start_http_server needs at least one DataFlow instance")
    monitors = [monitor_of(db) for db in dbs]
    registry = registry_for(*dbs)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path in ("", "/metrics"):
                body, kind = generate_latest(registry), CONTENT_TYPE_LATEST
            elif path == "/snapshot":
                top = 10
                if "top=" in self.path:
                    top = int(self.path.split("top=", 1)[1].split("&", 1)[0] or 10)
                data = {"databases": [monitor.snapshot(top) for monitor in monitors]}
                body, kind = json.dumps(data, default=str).encode(), "application/json"
            else:
                self.send_error(404, "try /metrics or /snapshot")
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes every few seconds would flood stderr

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="dataflow-monitor-http", daemon=True)
    thread.start()
    return MetricsServer(server, thread)
