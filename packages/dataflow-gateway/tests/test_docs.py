"""``/docs``: the API explorer, served with every asset by the gateway itself, rendered by a real headless chromium."""

from __future__ import annotations

import json
import re
import sys
import textwrap
import urllib.request
from pathlib import Path

from browser import chromium
from serving import free_port, server
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from dataflow import DataFlow
from dataflow_gateway import create_gateway

HERE = Path(__file__).parent


def test_the_docs_page_names_only_assets_the_gateway_serves(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    linked = re.findall(r'(?:href|src|data-openapi)="([^"]+)"', page.text)
    assert sorted(linked) == sorted(
        [
            "/api/docs/swagger-ui.css",
            "data:,",
            "/api/openapi.json",
            "/api/docs/swagger-ui-bundle.js",
            "/api/docs/init.js",
        ]
    )
    for url in linked:
        if url.startswith("/"):
            assert client.get(url).status_code == 200, url
    assert client.get("/api/docs/swagger-ui-bundle.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/api/docs/swagger-ui.css").headers["content-type"].startswith("text/css")


def test_the_vendored_assets_reference_no_other_host(client: TestClient) -> None:
    css = client.get("/api/docs/swagger-ui.css").text
    assert re.findall(r"url\((?!['\"]?data:)", css) == []  # fonts or images would be fetched from elsewhere
    assert "sourceMappingURL" not in css


def test_a_mounted_gateway_links_its_docs_assets_under_the_mount(db: DataFlow) -> None:
    outer = Starlette(routes=[Mount("/data", app=create_gateway(db))])
    with TestClient(outer) as http:
        page = http.get("/data/api/docs")
        assert page.status_code == 200
        assert 'data-openapi="/data/api/openapi.json"' in page.text
        assert http.get("/data/api/docs/init.js").status_code == 200
        assert http.get("/data/api/openapi.json").status_code == 200


def test_docs_false_serves_no_explorer(db: DataFlow) -> None:
    with TestClient(create_gateway(db, docs=False)) as http:
        assert http.get("/api/docs").status_code == 404
        assert http.get("/api/openapi.json").status_code == 200


APP = """
import sys
import uvicorn
sys.path.insert(0, {tests!r})
from gateway_helpers import define_shop
from dataflow import DataFlow, WorkflowBuilder
from dataflow_gateway import create_gateway

db = DataFlow("sqlite:///{database}")
define_shop(db)
checkout = WorkflowBuilder()
checkout.add_node("TeamCreateNode", "team", {{"name": "default"}})
gateway = create_gateway(db)
gateway.register_workflow("checkout", checkout)
uvicorn.run(gateway, host="127.0.0.1", port={port}, log_level="warning")
"""

# [method, path] of every operation block Swagger UI rendered.
RENDERED = """Array.from(document.querySelectorAll('.opblock')).map(b => [
  b.querySelector('.opblock-summary-method').textContent.trim().toLowerCase(),
  b.querySelector('.opblock-summary-path').getAttribute('data-path')])"""


def test_chromium_renders_every_operation_of_every_model_offline(tmp_path: Path) -> None:
    port = free_port()
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(APP.format(tests=str(HERE), database=tmp_path / "shop.db", port=port)))
    base = f"http://127.0.0.1:{port}"
    with server([sys.executable, str(script)], tmp_path, ready=f"{base}/api/openapi.json"):
        with urllib.request.urlopen(f"{base}/api/openapi.json", timeout=5) as reply:
            document = json.load(reply)
        expected = sorted([method, path] for path, item in document["paths"].items() for method in item)
        assert len(expected) == 3 * 12 + 1  # three models with every operation, and the workflow
        with chromium() as browser:
            browser.load(f"{base}/api/docs")
            rendered = browser.wait_for(
                f"(() => {{ const r = {RENDERED}; return r.length >= {len(expected)} && r }})()"
            )
            assert rendered, browser.evaluate("document.body.innerText.slice(0, 500)")
            assert sorted(rendered) == expected
            title = browser.evaluate("document.querySelector('.info .title').textContent")
            requests = list(browser.requests)
    assert "DataFlow API" in title
    assert f"{base}/api/docs/swagger-ui-bundle.js" in requests
    assert f"{base}/api/openapi.json" in requests
    outside = [url for url in requests if not url.startswith(f"{base}/") and not url.startswith("data:")]
    assert outside == []
