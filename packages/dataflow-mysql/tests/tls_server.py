"""A private MariaDB server with TLS on a loopback port, for the TLS tests: the shared test server has none.

It needs ``mariadbd``, ``mariadb-install-db`` and ``openssl`` on the PATH (or
in /usr/sbin); without them the tests that use it are skipped. The server
runs from a temporary directory, answers only on 127.0.0.1, and is stopped
(by its own pid) when the test session ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pymysql
import pytest


@attrs.frozen
class TLSServer:
    port: int
    ca: Path
    """The CA that signed the server's certificate (issued to 127.0.0.1)."""

    def url(self, database: str, query: str) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{database}?{query}"


def _tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _certificates(directory: Path, openssl: str) -> None:
    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=dataflow test CA")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    (directory / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
        "-out", "server-cert.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip


@pytest.fixture(scope="session", name="tls_server")
def tls_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSServer]:
    tools = {name: _tool(name) for name in ("mariadbd", "mariadb-install-db", "openssl")}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        pytest.skip(f"no private TLS server: {', '.join(missing)} not installed")
    root = tmp_path_factory.mktemp("tls-server")
    data, certs = root / "data", root / "certs"
    data.mkdir()
    certs.mkdir()
    _certificates(certs, str(tools["openssl"]))
    subprocess.run(
        [str(tools["mariadb-install-db"]), "--no-defaults", f"--datadir={data}", "--user=root",
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    port = _free_port()
    server = subprocess.Popen(
        [str(tools["mariadbd"]), "--no-defaults", f"--datadir={data}", "--user=root", f"--port={port}",
         "--bind-address=127.0.0.1", f"--socket={root / 'sock'}", f"--pid-file={root / 'pid'}",
         "--innodb-buffer-pool-size=16M", "--skip-log-bin", f"--ssl-ca={certs / 'ca.pem'}",
         f"--ssl-cert={certs / 'server-cert.pem'}", f"--ssl-key={certs / 'server-key.pem'}"],
        stdout=subprocess.DEVNULL, stderr=(root / "server.log").open("wb"),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=port, user="root", connect_timeout=1).close()
                break
            except pymysql.err.MySQLError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log = (root / "server.log").read_text(errors="replace")[-2000:]
                    pytest.fail(f"the private TLS server did not start:\n{log}")
                time.sleep(0.2)
        yield TLSServer(port=port, ca=certs / "ca.pem")
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(server.pid, signal.SIGKILL)
                server.wait(timeout=30)


def tls_database(server: TLSServer, name: str) -> None:
    connection = pymysql.connect(host="127.0.0.1", port=server.port, user="root", autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}`")
    finally:
        connection.close()
