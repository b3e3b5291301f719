"""A real server process on a free loopback port, for the tests that need one (``dataflow serve``, the browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

STARTUP_ATTEMPTS = 200


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(command: Sequence[str], cwd: Path, ready: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (which serves on loopback) until ``ready`` answers; stop it at the end.

    The environment loses every ``DATAFLOW_`` variable so the process sees only
    what the test gives it. Its output is kept; a traceback in it fails the test.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DATAFLOW_")}
    process = subprocess.Popen(
        list(command), cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        for _ in range(STARTUP_ATTEMPTS):
            try:
                urllib.request.urlopen(ready, timeout=1).close()
                break
            except OSError:
                if process.poll() is not None:
                    break
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
    assert "Traceback" not in output, output
