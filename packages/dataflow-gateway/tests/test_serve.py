"""``dataflow serve`` as a real process on a loopback port: each worker opens its own pools, requests are served."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DATAFLOW_")}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("dataflow")), "serve", "--models", "shopapp:db", "--port", str(port)],
        cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}/api/item"
        for _ in range(100):
            try:
                urllib.request.urlopen(base, timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        request = urllib.request.Request(base, data=b'{"name": "lamp"}', headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as created:
            assert created.status == 201
        with urllib.request.urlopen(base, timeout=5) as listed:
            assert b'"lamp"' in listed.read()
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0].decode()
    assert "Traceback" not in output, output
