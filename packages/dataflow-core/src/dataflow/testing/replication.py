"""Real replication for tests: a PostgreSQL or MariaDB primary with one streaming replica, in a temp dir.

    pair = start_postgres_pair(Path(tmp))   # initdb, pg_basebackup -R, both started
    pair.primary_url, pair.replica_url
    pair.delay(2.0)                          # replication delayed on purpose
    pair.stop_replica(); pair.start_replica()
    pair.close()                             # both stopped, the directory removed

The shared servers on 5432/3306 are never touched: each pair runs on free
loopback ports of its own, as the ``postgres``/``mysql`` OS user when the
tests run as root (the servers refuse root). Binaries are found on ``PATH``,
in ``/usr/lib/postgresql/*/bin`` and ``/usr/sbin``. A pair that cannot start
raises :class:`ReplicationUnavailable` with the server's log tail.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

START_TIMEOUT = 60.0


class ReplicationUnavailable(RuntimeError):
    """The binaries are missing, or a server of the pair did not come up."""


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_binary(name: str, extra: Sequence[str] = ()) -> str:
    found = shutil.which(name)
    if found:
        return found
    for pattern in (*extra, f"/usr/lib/postgresql/*/bin/{name}", f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        for path in sorted(glob.glob(pattern), reverse=True):
            if os.access(path, os.X_OK):
                return path
    raise ReplicationUnavailable(f"{name} is not installed (looked on PATH, /usr/lib/postgresql/*/bin, /usr/sbin)")


def postgres_bin_dir() -> Path:
    """The directory holding initdb, pg_ctl, pg_basebackup and psql together (newest version first)."""
    needed = ("initdb", "pg_ctl", "pg_basebackup", "psql")
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(str(shutil.which("initdb"))).parent))
    for directory in candidates:
        if all(os.access(os.path.join(directory, name), os.X_OK) for name in needed):
            return Path(directory)
    raise ReplicationUnavailable("no directory holds initdb, pg_ctl, pg_basebackup and psql together")


def _as_user(user: str, command: Sequence[str]) -> list[str]:
    """``command`` run as ``user`` when we are root (PostgreSQL and MariaDB refuse to run as root)."""
    if os.geteuid() != 0:
        return list(command)
    return ["runuser", "-u", user, "--", *command]


def _own(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user, user)
        for root, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                shutil.chown(os.path.join(root, name), user, user)


def _run(command: Sequence[str], what: str, timeout: float = START_TIMEOUT) -> str:
    result = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise ReplicationUnavailable(f"{what} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-2000:]
    except OSError:
        return "(no log)"


def _wait_for_port(port: int, log: Path, what: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ReplicationUnavailable(f"{what} exited with {process.returncode}: {_tail(log)}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise ReplicationUnavailable(f"{what} did not listen on port {port} within {START_TIMEOUT:g}s: {_tail(log)}")


@attrs.define
class PostgresPair:
    """A PostgreSQL primary and a hot standby streaming from it."""

    root: Path
    primary_port: int
    replica_port: int
    bin_dir: Path
    database: str = "test"
    extra: list[str] = attrs.field(factory=list)
    """Data dirs of the replicas :meth:`add_replica` started."""

    @property
    def primary_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.primary_port}/{self.database}"

    @property
    def replica_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.replica_port}/{self.database}"

    def _ctl(self, data: str, action: str, *extra: str) -> None:
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.root / data), "-w", "-t", "60", *extra, action]
        if action != "stop":
            command[-1:-1] = ["-l", str(self.root / f"{data}.log")]
        _run(_as_user("postgres", command), f"pg_ctl {action} ({data})")

    def add_replica(self, name: str) -> str:
        """Another streaming replica of the primary (data dir ``name``), started; its URL."""
        port = free_port()
        _run(
            _as_user("postgres", [str(self.bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary_port),
                                  "-U", "postgres", "-D", str(self.root / name), "-R", "-X", "stream", "--no-sync",
                                  "-c", "fast"]),
            "pg_basebackup",
        )  # fmt: skip
        with (self.root / name / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {port}\n")
        self.extra.append(name)
        self._ctl(name, "start")
        return f"postgresql://postgres@127.0.0.1:{port}/{self.database}"

    def stop_replica(self, mode: str = "immediate") -> None:
        """Stop the replica (``immediate``: as a crash would, its clients cut at once)."""
        self._ctl("replica", "stop", "-m", mode)

    def start_replica(self) -> None:
        self._ctl("replica", "start")

    def delay(self, seconds: float) -> None:
        """Make the replica apply each commit ``seconds`` after the primary made it (0: no delay)."""
        conf = self.root / "replica" / "delay.conf"
        conf.write_text(f"recovery_min_apply_delay = '{int(seconds * 1000)}ms'\n")
        _own(conf, "postgres")
        _run(_as_user("postgres", [str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "replica"), "reload"]), "reload")
        # pg_ctl reload only signals: wait until the replica's sessions see the new delay, so that a
        # write made after delay() returns is not applied under the old one.
        wanted = str(int(seconds * 1000))
        query = "SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'"
        show = [str(self.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.replica_port), "-U", "postgres",
                "-d", "postgres", "-tAc", query]  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while _run(show, "reading recovery_min_apply_delay").strip() != wanted:
            if time.monotonic() > deadline:
                raise ReplicationUnavailable(f"the replica did not take recovery_min_apply_delay = {wanted}ms")
            time.sleep(0.05)
        time.sleep(0.2)  # the startup process takes the signal on its own schedule, next to the sessions

    def close(self) -> None:
        for data in (*self.extra, "replica", "primary"):
            with contextlib.suppress(ReplicationUnavailable, subprocess.TimeoutExpired):
                self._ctl(data, "stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres_pair(root: Path, *, preload: Sequence[str] = ("pg_stat_statements",)) -> PostgresPair:
    """initdb a primary (``wal_level=replica``), ``pg_basebackup -R`` a replica, start both; database ``test``."""
    bin_dir = postgres_bin_dir()
    root.mkdir(parents=True, exist_ok=True)
    _own(root, "postgres")
    os.chmod(root, 0o755)
    pair = PostgresPair(root, free_port(), free_port(), bin_dir)
    primary = root / "primary"
    try:
        _run(
            _as_user("postgres", [str(bin_dir / "initdb"), "-D", str(primary), "-U", "postgres", "--auth=trust",
                                  "--no-sync", "-E", "UTF8", "--locale=C"]),
            "initdb",
        )  # fmt: skip
        settings = {
            "port": pair.primary_port,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{root}'",
            "wal_level": "replica",
            "max_wal_senders": 5,
            "hot_standby": "on",
            "hot_standby_feedback": "on",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "'32MB'",
            "max_connections": 100,
            "max_prepared_transactions": 20,
            "wal_receiver_status_interval": "'1s'",
            "include_if_exists": "'delay.conf'",
        }
        if preload:
            settings["shared_preload_libraries"] = "'" + ",".join(preload) + "'"
        with (primary / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        pair._ctl("primary", "start")
        _run(
            _as_user("postgres", [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(pair.primary_port), "-U",
                                  "postgres", "-d", "postgres", "-qAtc", "CREATE DATABASE test"]),
            "CREATE DATABASE test",
        )  # fmt: skip
        replica = root / "replica"
        _run(
            _as_user("postgres", [str(bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(pair.primary_port),
                                  "-U", "postgres", "-D", str(replica), "-R", "-X", "stream", "--no-sync",
                                  "-c", "fast"]),
            "pg_basebackup",
        )  # fmt: skip
        with (replica / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {pair.replica_port}\n")
        pair._ctl("replica", "start")
    except BaseException:
        pair.close()
        raise
    return pair


@attrs.define
class MariaDBPair:
    """A MariaDB primary (binary log, GTIDs) and a replica of it (``MASTER_USE_GTID=slave_pos``)."""

    root: Path
    primary_port: int
    replica_port: int
    server: str
    database: str = "test"
    processes: dict[str, subprocess.Popen[bytes]] = attrs.field(factory=dict)

    @property
    def primary_url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.primary_port}/{self.database}"

    @property
    def replica_url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.replica_port}/{self.database}"

    def _start(self, name: str) -> None:
        port = self.primary_port if name == "primary" else self.replica_port
        data = self.root / name
        log = self.root / f"{name}.log"
        # flush-log-at-trx-commit=2: every commit reaches the OS, so a killed server (stop_replica) loses none;
        # with 0 a killed replica lost its last second and served reads without it while it re-applied it.
        command = [
            self.server, "--no-defaults", f"--datadir={data}", f"--port={port}", "--bind-address=127.0.0.1",
            f"--socket={self.root / (name + '.sock')}", f"--pid-file={self.root / (name + '.pid')}",
            f"--log-error={log}", f"--server-id={1 if name == 'primary' else 2}", "--log-bin=binlog",
            "--binlog-format=ROW", "--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=2",
            "--skip-name-resolve", "--max-connections=200", "--local-infile=1",
        ]  # fmt: skip
        if name == "replica":
            command.append("--skip-slave-start")
        if os.geteuid() == 0:
            command.append("--user=mysql")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes[name] = process
        _wait_for_port(port, log, f"mariadbd ({name})", process)

    def sql(self, name: str, *statements: str) -> list[tuple[object, ...]]:
        """Run statements on ``primary`` or ``replica`` as root, through its socket; the last one's rows."""
        import pymysql  # noqa: PLC0415 - a driver: dataflow-core does not depend on it, only these MariaDB fixtures do

        connection = pymysql.connect(
            unix_socket=str(self.root / f"{name}.sock"), user="root", connect_timeout=10, autocommit=True
        )
        try:
            rows: list[tuple[object, ...]] = []
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
                    rows = list(cursor.fetchall())
            return rows
        finally:
            connection.close()

    def stop_replica(self) -> None:
        """Kill the replica server (as a crash would: its clients cut at once)."""
        process = self.processes.pop("replica", None)
        if process is not None:
            process.kill()
            process.wait(timeout=30)

    def start_replica(self) -> None:
        self._start("replica")
        self.sql("replica", "START SLAVE")
        self.wait_replicating()

    def delay(self, seconds: float) -> None:
        """Make the replica apply each transaction ``seconds`` after the primary (whole seconds; 0: no delay)."""
        self.sql(
            "replica",
            "STOP SLAVE",
            f"CHANGE MASTER TO MASTER_DELAY = {int(seconds)}",
            "START SLAVE",
        )
        self.wait_replicating()

    def wait_replicating(self) -> None:
        """Until both replication threads run and the replica reports its lag (NULL while they start)."""
        import pymysql  # noqa: PLC0415 - a driver: dataflow-core does not depend on it, only these MariaDB fixtures do

        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            connection = pymysql.connect(
                unix_socket=str(self.root / "replica.sock"), user="root", connect_timeout=10,
                cursorclass=pymysql.cursors.DictCursor,
            )  # fmt: skip
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SHOW SLAVE STATUS")
                    status = cursor.fetchone() or {}
            finally:
                connection.close()
            if (
                status.get("Slave_IO_Running") == "Yes"
                and status.get("Slave_SQL_Running") == "Yes"
                and status.get("Seconds_Behind_Master") is not None
            ):
                return
            time.sleep(0.05)
        raise ReplicationUnavailable(
            f"the MariaDB replica did not resume replicating: {_tail(self.root / 'replica.log')}"
        )

    def close(self) -> None:
        for name in ("replica", "primary"):
            process = self.processes.pop(name, None)
            if process is not None:
                process.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


def start_mariadb_pair(root: Path) -> MariaDBPair:
    """mariadb-install-db once (copied for the replica), start both, ``CHANGE MASTER ... MASTER_USE_GTID``."""
    server = find_binary("mariadbd")
    install = find_binary("mariadb-install-db")
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    pair = MariaDBPair(root, free_port(), free_port(), server)
    try:
        primary = root / "primary"
        command = [install, "--no-defaults", f"--datadir={primary}", "--auth-root-authentication-method=normal",
                   "--skip-test-db"]  # fmt: skip
        if os.geteuid() == 0:
            command.append("--user=mysql")
        _run(command, "mariadb-install-db")
        shutil.copytree(primary, root / "replica", symlinks=True)
        _own(root, "mysql")
        pair._start("primary")
        # Through the socket (root@localhost); the replica replays these from the binary log.
        pair.sql(
            "primary",
            "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'",
            "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
            "CREATE DATABASE test CHARACTER SET utf8mb4",
        )
        pair._start("replica")
        pair.sql(
            "replica",
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={pair.primary_port}, MASTER_USER='root', "
            "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
            "START SLAVE",
        )
    except BaseException:
        pair.close()
        raise
    return pair


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
    _own(root, "postgres")
    os.chmod(root, 0o755)
    bouncer.process = subprocess.Popen(
        _as_user("postgres", [binary, str(root / "pgbouncer.ini")]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(bouncer.port, root / "pgbouncer.log", "pgbouncer", bouncer.process)
    except BaseException:
        bouncer.close()
        raise
    return bouncer
