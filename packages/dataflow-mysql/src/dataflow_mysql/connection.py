"""One aiomysql connection, seen through DataFlow's ``Connection`` protocol.

Statements go straight to ``Connection.query`` with parameters rendered by
:mod:`.literals`: no cursor object per call, and no ``SHOW WARNINGS`` round
trip after a statement that left a note (``CREATE TABLE IF NOT EXISTS`` on an
existing table, deprecation notes on MySQL 8). Private aiomysql attributes
read here: ``_result`` (what aiomysql's own cursors read), ``_reader`` (to
tell a connection the server has closed), ``_writer`` (to reach the
socket: to cut it, and to see that the server ended an idle session), and,
to refuse plaintext when TLS is required, ``_connect``,
``_request_authentication``, ``server_capabilities`` and ``_secure``;
``_read_query_result`` is overridden to read results with
:class:`.results.KnownColumnsResult`.

Connections run in autocommit mode; transactions are explicit. After a
deadlock InnoDB has already rolled the whole transaction back: the connection
then refuses every statement (with the deadlock error again) until
``rollback()``, as PostgreSQL does with an aborted transaction, so that
neither a savepoint rollback nor a COMMIT can pretend the earlier writes
survived.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
from collections.abc import Sequence
from typing import Any

import aiomysql
import pymysql.err
from pymysql.constants import CLIENT

from dataflow.dialect import ISOLATION_LEVELS, ExecuteResult
from dataflow.pooling import socket_is_quiet

from .errors import DEADLOCK, LOCK_WAIT_TIMEOUT, error_code
from .literals import encoded_size, pack_statements, render, row_literal
from .options import TLSNotNegotiated
from .results import Described, KnownColumnsResult
from .server import ServerInfo

SQL_MODE = (
    "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
    "NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO"
)
SESSION_SETUP = f"SET SESSION sql_mode = '{SQL_MODE}', time_zone = '+00:00'"

_INSERT_VALUES = re.compile(
    r"\s*((?:INSERT|REPLACE)\s.+\sVALUES\s*)(\((?:\s*%s\s*,)*\s*%s\s*\))(\s.*)?\Z", re.IGNORECASE | re.DOTALL
)


class MySQLConnection:
    """An aiomysql connection in autocommit mode with explicit transactions."""

    def __init__(self, raw: Any, server: ServerInfo | None = None) -> None:
        self._raw = raw
        self.server = server or ServerInfo()
        self._in_transaction = False
        self._aborted: pymysql.err.MySQLError | None = None
        self._poller: Any = None

    @property
    def raw(self) -> Any:
        """The ``aiomysql.Connection``."""
        return self._raw

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    @property
    def max_statement_bytes(self) -> int:
        """The largest statement the server accepts, less a margin."""
        return self.server.max_statement_bytes

    # -- statements ---------------------------------------------------------

    async def query(self, sql: str) -> Any:
        """Run finished SQL text; return aiomysql's result (``rows``, ``affected_rows``, ``insert_id``, ...)."""
        if self._aborted is not None:
            self._refuse(self._aborted)
        raw = self._raw
        try:
            await raw.query(sql)
        except pymysql.err.OperationalError as exc:
            self._note(exc)
            raise
        return raw._result

    async def next_result(self) -> Any:
        """The result of the next statement of a multi-statement query."""
        raw = self._raw
        try:
            await raw.next_result()
        except pymysql.err.OperationalError as exc:
            self._note(exc)
            raise
        return raw._result

    @staticmethod
    def _refuse(aborted: pymysql.err.MySQLError) -> None:
        raise pymysql.err.OperationalError(
            error_code(aborted),
            "this transaction was rolled back by the server after an earlier error "
            f"({aborted.args[1] if len(aborted.args) > 1 else aborted}); roll it back and retry",
        )

    def _note(self, error: pymysql.err.MySQLError) -> None:
        """Remember an error after which the server has already rolled the transaction back."""
        code = error_code(error)
        rolled_back = code == DEADLOCK or (code == LOCK_WAIT_TIMEOUT and self.server.rollback_on_timeout)
        if self._in_transaction and rolled_back:
            self._aborted = error

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> ExecuteResult:
        result = await self.query(render(sql, params))
        return ExecuteResult(result.affected_rows, result.insert_id or None)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        # query() inline: a read by key is one statement, and each coroutine level costs on every resume.
        if self._aborted is not None:
            self._refuse(self._aborted)
        raw = self._raw
        try:
            await raw.query(render(sql, params))
            result = raw._result
            rows = list(result.rows or ())
            while result.has_next:  # a CALL's result set is followed by the CALL's own status
                await raw.next_result()
                result = raw._result
        except pymysql.err.OperationalError as exc:
            self._note(exc)
            raise
        return rows

    async def fetch_named(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[Sequence[Any]]]:
        result = await self.query(render(sql, params))
        names = [column[0] for column in result.description or ()]
        return names, list(result.rows or ())

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``sql`` for every row: one multi-row statement per packet for INSERT, pipelined otherwise."""
        if not rows:
            return 0
        found = _INSERT_VALUES.match(sql)
        if found is not None:
            prefix, suffix = found[1], found[3] or ""
            if "%s" not in suffix:
                return await self._insert_rows(prefix, suffix, [row_literal(row) for row in rows])
        return await self.pipeline([render(sql, row) for row in rows])

    async def _insert_rows(self, prefix: str, suffix: str, literals: Sequence[str]) -> int:
        total = 0
        for statement in pack_statements(prefix, literals, suffix, self.max_statement_bytes):
            total += (await self.query(statement)).affected_rows
        return total

    async def pipeline(self, statements: Sequence[str]) -> int:
        """Send many statements in few packets (multi-statement queries); return the rows affected in total.

        The server stops at the first failing statement, whose error is raised here.
        """
        total = 0
        budget = self.max_statement_bytes
        batch: list[str] = []
        size = 0
        for statement in statements:
            length = encoded_size(statement) + 1
            if batch and size + length > budget:
                total += await self._run_batch(batch)
                batch, size = [], 0
            batch.append(statement)
            size += length
        if batch:
            total += await self._run_batch(batch)
        return total

    async def _run_batch(self, statements: Sequence[str]) -> int:
        result = await self.query(";\n".join(statements))
        total = result.affected_rows or 0
        while result.has_next:
            result = await self.next_result()
            total += result.affected_rows or 0
        return int(total)

    # -- transactions -------------------------------------------------------

    async def begin(self, isolation: str | None = None, read_only: bool = False) -> None:
        if isolation is not None:
            if isolation not in ISOLATION_LEVELS:
                raise ValueError(f"unknown isolation level {isolation!r}")
            # Applies to the next transaction only.
            await self.query(f"SET TRANSACTION ISOLATION LEVEL {isolation.upper()}")
        await self.query("START TRANSACTION READ ONLY" if read_only else "START TRANSACTION")
        self._in_transaction = True

    async def commit(self) -> None:
        try:
            await self.query("COMMIT")
        finally:
            self._in_transaction = False

    async def rollback(self) -> None:
        self._aborted = None
        try:
            await self.query("ROLLBACK")
        finally:
            self._in_transaction = False

    # -- life -----------------------------------------------------------------

    def usable(self) -> bool:
        """Open, not closed by the server, not mid-result."""
        raw = self._raw
        reader = raw._reader
        if raw._writer is None or reader is None or reader.at_eof() or reader.exception() is not None:
            return False  # no writer: closed (what aiomysql's ``closed`` says, without its property call)
        # aiomysql's reader notes an EOF that MySQL 8 sends after an error packet on a timed-out connection.
        return not getattr(reader, "eof_received", False)

    async def close(self) -> None:
        """Say goodbye to the server (COM_QUIT), or just drop the socket if that fails."""
        try:
            if self.usable():
                with contextlib.suppress(Exception):
                    await self._raw.ensure_closed()
        finally:
            self.terminate()

    def quiet(self) -> bool:
        """Has the idle connection's socket nothing to read? (:func:`dataflow.pooling.socket_is_quiet`)

        Asked on every acquire: the poll object is made once per connection,
        so that the check is one ``poll(0)`` system call.
        """
        poller = self._poller
        if poller is None:
            sock = self.socket()
            if sock is None or not hasattr(select, "poll"):
                return socket_is_quiet(sock)
            fd = sock.fileno()
            if fd < 0:
                return False
            poller = self._poller = select.poll()
            poller.register(fd, select.POLLIN | select.POLLPRI)
        try:
            return not poller.poll(0)
        except (OSError, ValueError):
            return False

    def socket(self) -> Any:
        """The connection's socket, or None once closed."""
        writer = self._raw._writer
        return writer.transport.get_extra_info("socket") if writer is not None else None

    def terminate(self) -> None:
        """Close at once, even when the connection's event loop is closed or elsewhere.

        Shutting the socket down needs no event loop, and makes the server end
        the session now; the transport's own close may need a loop that is gone.
        """
        raw = self._raw
        if raw._writer is None:
            return
        sock = self.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(RuntimeError):  # the loop is closed
            raw.close()


class _Connection(aiomysql.Connection):  # type: ignore[misc]  # aiomysql ships no types
    """aiomysql's connection, which goes on in plaintext when the server offers no TLS, unless told not to,
    and parses each distinct column description of its results once (:mod:`.results`)."""

    def __init__(self, *args: Any, tls_required: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tls_required = tls_required
        self.descriptions: dict[bytes, Described] = {}

    async def _read_query_result(self, unbuffered: bool = False) -> None:
        if unbuffered:
            await super()._read_query_result(unbuffered=True)
            return
        # aiomysql's own body, with its result class swapped for one that knows the columns it has seen.
        self._result = None
        result = KnownColumnsResult(self)
        await result.read()
        self._result = result
        self._affected_rows = result.affected_rows
        if result.server_status is not None:
            self.server_status = result.server_status

    async def _request_authentication(self) -> None:
        # The server's greeting says whether it speaks TLS; refuse before the user name and
        # password go out in plaintext.
        if self._tls_required and not self.server_capabilities & CLIENT.SSL:
            raise TLSNotNegotiated(
                f"TLS is required (URL option ssl), but the server at {self._host}:{self._port} does not offer it; "
                "configure TLS on the server, or use ssl=prefer to connect without it"
            )
        await super()._request_authentication()
        if self._tls_required and not self._secure:
            raise TLSNotNegotiated(f"TLS is required (URL option ssl), but none was set up with {self._host}")


async def open_connection(
    *,
    host: str,
    port: int,
    user: str | None,
    password: str,
    database: str,
    connect_timeout: float,
    local_infile: bool,
    ssl: Any,
    ssl_required: bool = False,
    server: ServerInfo | None,
) -> MySQLConnection:
    """Connect, and set the session up: strict mode, UTC, utf8mb4, FOUND_ROWS (UPDATE counts matched rows).

    With ``ssl_required`` a server that does not negotiate TLS is refused before any credential is sent.
    """
    raw = _Connection(
        tls_required=ssl_required,
        host=host,
        port=port,
        user=user,
        password=password,
        db=database,
        charset="utf8mb4",
        autocommit=None,
        client_flag=CLIENT.FOUND_ROWS,
        connect_timeout=connect_timeout,
        local_infile=local_infile,
        ssl=ssl,
    )
    await raw._connect()
    connection = MySQLConnection(raw, server)
    try:
        await raw.query(SESSION_SETUP)
        if not raw.get_autocommit():
            await raw.autocommit(True)
    except BaseException:
        connection.terminate()
        raise
    return connection
