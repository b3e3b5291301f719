"""A headless chromium driven over the DevTools protocol on a pipe: load a page, list every request, evaluate script.

``--remote-debugging-pipe`` makes chromium read commands from fd 3 and write
replies and events to fd 4, each a JSON message ended by a NUL byte; no port,
no websocket library. Every request the page makes is recorded from
``Network.requestWillBeSent``, so a test can check that nothing left the host.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest

CHROMIUM = os.environ.get("DATAFLOW_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Only loopback resolves: an asset fetched from anywhere else fails, as it would offline.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
REPLY_SECONDS = 30.0
# Puts the two pipe ends at fds 3 and 4, where chromium looks for them, then becomes chromium. Copies first:
# either end may itself be fd 3 or 4. (A small exec trampoline rather than preexec_fn, which is unsafe with threads.)
ON_FDS_3_AND_4 = (
    "import os, sys; r, w = os.dup(int(sys.argv[1])), os.dup(int(sys.argv[2])); "
    "os.dup2(r, 3); os.dup2(w, 4); os.set_inheritable(3, True); os.set_inheritable(4, True); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)


def chromium_or_skip() -> str:
    """The chromium binary; without one the test skips, or fails when CI is set (CI must run it)."""
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if found:
        return found
    message = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class Browser:
    """One chromium process and one page in it."""

    def __init__(self, process: subprocess.Popen[bytes], commands: int, replies: int) -> None:
        self.process = process
        self._commands = commands
        self._inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self._next_id = 0
        self.requests: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, args=(replies,), daemon=True)
        self._reader.start()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Network.enable", session=True)
        self.send("Page.enable", session=True)

    def _read(self, fd: int) -> None:
        buffer = b""
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for message in messages:
                    self._inbox.put(json.loads(message))

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: bool = False) -> dict[str, Any]:
        """Send one command and wait for its reply; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._inbox.get(timeout=REPLY_SECONDS)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self._event(reply)

    def _event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if event.get("method") == "Network.requestWillBeSent":
            self.requests.append(event["params"]["request"]["url"])

    def evaluate(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        return reply["result"].get("value")

    def load(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self.send("Page.navigate", {"url": url}, session=True)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self._event(self._inbox.get(timeout=REPLY_SECONDS))

    def wait_for(self, expression: str, attempts: int = 200) -> Any:
        """Evaluate ``expression`` until it is truthy (a bounded number of tries, a moment apart); its last value."""
        value = None
        for _ in range(attempts):
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        return value

    def close(self) -> None:
        with suppress(RuntimeError, queue.Empty, OSError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless chromium with a fresh profile, closed (and its profile removed) at the end."""
    binary = chromium_or_skip()
    to_browser_read, to_browser_write = os.pipe()
    from_browser_read, from_browser_write = os.pipe()

    with tempfile.TemporaryDirectory(prefix="dataflow-chromium-") as profile:
        arguments = [binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        process = subprocess.Popen(
            [sys.executable, "-c", ON_FDS_3_AND_4, str(to_browser_read), str(from_browser_write), *arguments],
            pass_fds=(to_browser_read, from_browser_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        browser = Browser(process, to_browser_write, from_browser_read)
        try:
            yield browser
        finally:
            browser.close()
