"""``dataflow serve`` as a real process on a loopback port: each worker opens its own pools, requests are served."""

from __future__ import annotations

import json
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

from click.testing import CliRunner
from serving import free_port, server

from dataflow_gateway.plugin import serve


def test_dataflow_serve_serves_the_models_of_a_module(tmp_path: Path) -> None:
    (tmp_path / "shopapp.py").write_text(
        textwrap.dedent(f"""
        from dataflow import DataFlow

        db = DataFlow("sqlite:///{tmp_path / "shop.db"}")

        @db.model
        class Item:
            name: str
    """)
    )
    port = free_port()
    command = [str(Path(sys.executable).with_name("dataflow")), "serve", "--models", "shopapp:db", "--port", str(port)]
    base = f"http://127.0.0.1:{port}/api/item"
    with server(command, tmp_path, ready=base):
        request = urllib.request.Request(base, data=b'{"name": "lamp"}', headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as created:
            assert created.status == 201
        with urllib.request.urlopen(base, timeout=5) as listed:
            assert b'"lamp"' in listed.read()


SERVICE = """
from dataflow import DataFlow, WorkflowBuilder
from dataflow_gateway import Principal, api_key_auth, create_gateway

db = DataFlow("sqlite:///{database}")

@db.model
class Note:
    text: str

two_notes = WorkflowBuilder()
two_notes.add_node("NoteCreateNode", "first", {{"text": "one"}})
two_notes.add_node("NoteCreateNode", "second", {{"text": "two"}})

gateway = create_gateway(db, authenticate=api_key_auth({{"k1": Principal("svc")}}))
gateway.register_workflow("two_notes", two_notes)
"""


def test_dataflow_serve_app_serves_a_gateway_with_its_workflows_and_authentication(tmp_path: Path) -> None:
    (tmp_path / "service.py").write_text(textwrap.dedent(SERVICE.format(database=tmp_path / "notes.db")))
    port = free_port()
    dataflow = str(Path(sys.executable).with_name("dataflow"))
    command = [dataflow, "serve", "--app", "service:gateway", "--port", str(port)]
    base = f"http://127.0.0.1:{port}/api"
    with server(command, tmp_path, ready=f"{base}/openapi.json"):
        try:
            urllib.request.urlopen(f"{base}/note", timeout=5)
            raise AssertionError("served without an API key")
        except urllib.error.HTTPError as refused:
            assert refused.code == 401
        run = urllib.request.Request(
            f"{base}/workflows/two_notes",
            data=json.dumps({"parameters": {"second": {"text": "2"}}}).encode(),
            headers={"content-type": "application/json", "X-API-Key": "k1"},
        )
        with urllib.request.urlopen(run, timeout=10) as ran:
            assert ran.status == 200 and json.load(ran)["results"]["second"]["text"] == "2"
        listed = urllib.request.Request(f"{base}/note", headers={"X-API-Key": "k1"})
        with urllib.request.urlopen(listed, timeout=5) as page:
            assert sorted(r["text"] for r in json.load(page)["records"]) == ["2", "one"]


def test_app_with_models_is_a_usage_error() -> None:
    result = CliRunner().invoke(serve, ["--app", "service:gateway", "--models", "service:db"])
    assert result.exit_code == 2 and "--app serves a gateway as built" in result.output
    result = CliRunner().invoke(serve, ["--app", "service"])
    assert result.exit_code == 2 and "module:attribute" in result.output
