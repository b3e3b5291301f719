"""PgBouncer for tests: transaction pooling in front of one PostgreSQL server, on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

import attrs

from .replication import as_user, find_binary, free_port, own, wait_for_port


@attrs.define
class PgBouncer:
    """PgBouncer in transaction pooling mode in front of one PostgreSQL server (any database name passes)."""

    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    def url(self, database: str, query: str = "", *, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}" + (f"?{query}" if query else "")

    def close(self) -> None:
        # pgbouncer runs under runuser, which does not pass a kill on: end it by its own pid first.
        with contextlib.suppress(OSError, ValueError):
            os.kill(int((self.root / "pgbouncer.pid").read_text().strip()), signal.SIGKILL)
        if self.process is not None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


def start_pgbouncer(
    root: Path, server_port: int, *, pool_size: int = 20, users: Sequence[str] = ("postgres",)
) -> PgBouncer:
    """Start ``pgbouncer`` (``pool_mode = transaction``, trust auth) forwarding every database to ``server_port``.

    ``pool_size`` is the number of server connections per database and user,
    shared by all clients: 1 makes every client take turns on one server session.
    ``users`` are the roles it lets in (they must exist on the server).
    """
    binary = find_binary("pgbouncer")
    root.mkdir(parents=True, exist_ok=True)
    bouncer = PgBouncer(root, free_port())
    (root / "userlist.txt").write_text("".join(f'"{user}" ""\n' for user in users))
    (root / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host=127.0.0.1 port={server_port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {bouncer.port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {root / 'userlist.txt'}\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 1000\n"
        f"logfile = {root / 'pgbouncer.log'}\npidfile = {root / 'pgbouncer.pid'}\n"
        "server_reset_query =\nignore_startup_parameters = extra_float_digits\n"
    )
    own(root, "postgres")
    os.chmod(root, 0o755)
    bouncer.process = subprocess.Popen(
        as_user("postgres", [binary, str(root / "pgbouncer.ini")]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(bouncer.port, root / "pgbouncer.log", "pgbouncer", bouncer.process)
    except BaseException:
        bouncer.close()
        raise
    return bouncer
