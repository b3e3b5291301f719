"""Serving metrics: the ASGI helper, the standalone server (on 127.0.0.1), several instances on one endpoint."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import define_item, one_node, run
from prometheus_client.parser import text_string_to_metric_families

from dataflow import DataFlow
from dataflow.errors import ConfigError
from dataflow.plugins import PluginHost
from dataflow_monitor import metrics_app, registry_for, start_http_server


def _values(text: str, name: str) -> dict[str, float]:
    """``{database: value}`` of the samples called ``name`` for model Item, operation create."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("operation") == "create":
                found[sample.labels["database"]] = sample.value
    return found


async def _asgi_get(app: Any, path: str) -> tuple[int, dict[str, str], bytes]:
    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": []}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, body


def test_asgi_app_serves_prometheus_text(tmp_path: Path) -> None:
    async def body() -> None:
        db = DataFlow(f"sqlite:///{tmp_path}/asgi.db")
        define_item(db)
        try:
            await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
            status, headers, text = await _asgi_get(metrics_app(db), "/metrics")
        finally:
            await db.close_async()
        assert status == 200
        assert headers["content-type"].startswith("text/plain")
        assert _values(text.decode(), "dataflow_statements_total") == {db.label: 1.0}

    asyncio.run(body())


def test_one_endpoint_serves_several_instances_side_by_side(tmp_path: Path) -> None:
    async def body() -> None:
        first, second = DataFlow(f"sqlite:///{tmp_path}/a.db"), DataFlow(f"sqlite:///{tmp_path}/b.db")
        define_item(first)
        define_item(second)
        try:
            await run(one_node(first.nodes["ItemCreateNode"], {"name": "a"}))
            for _ in range(2):
                await run(one_node(second.nodes["ItemCreateNode"], {"name": "b"}))
            _, _, text = await _asgi_get(metrics_app(first, second), "/metrics")
        finally:
            await first.close_async()
            await second.close_async()
        decoded = text.decode()
        assert decoded.count("# TYPE dataflow_statements_total counter") == 1  # one family, both instances' samples
        assert _values(decoded, "dataflow_statements_total") == {first.label: 1.0, second.label: 2.0}

    asyncio.run(body())


def test_standalone_server_serves_metrics_and_snapshot_on_localhost(tmp_path: Path) -> None:
    async def body() -> None:
        db = DataFlow(f"sqlite:///{tmp_path}/server.db")
        define_item(db)
        try:
            await run(one_node(db.nodes["ItemCreateNode"], {"name": "a"}))
            with start_http_server(db, port=0) as server:
                assert server.host == "127.0.0.1"
                metrics = await asyncio.to_thread(_get, f"{server.url}/metrics")
                snapshot = json.loads(await asyncio.to_thread(_get, f"{server.url}/snapshot?top=50"))
        finally:
            await db.close_async()
        assert _values(metrics, "dataflow_statements_total") == {db.label: 1.0}
        (only,) = snapshot["databases"]
        assert only["database"] == db.label
        assert len(only["top_statements"]) <= 50
        assert any(row["sql"].startswith("INSERT") for row in only["top_statements"])

    asyncio.run(body())


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def test_an_instance_without_the_monitor_is_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAFLOW_DISABLE_PLUGINS", "monitor")
    host = PluginHost()
    monkeypatch.setattr("dataflow.database.plugin_host", lambda: host)
    monkeypatch.setattr("dataflow.registered.plugin_host", lambda: host)
    db = DataFlow(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        with pytest.raises(ConfigError, match="has no dataflow-monitor"):
            registry_for(db)
    finally:
        db.close()
