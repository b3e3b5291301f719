"""``dataflow serve`` as a real process on a loopback port: each worker opens its own pools, requests are served."""

from __future__ import annotations

import sys
import textwrap
import urllib.request
from pathlib import Path

from serving import free_port, server


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
