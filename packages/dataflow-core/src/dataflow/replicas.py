"""Read replicas of one database: their URLs, their pools, their health, and the choice of one for a read.

A :class:`ReplicaSet` holds one :class:`Replica` per configured URL, each
with a dialect instance and a pool per event loop of its own. A replica that
cannot be reached is taken out for a backoff that doubles on every failure
(0.5 s up to 30 s); one whose lag exceeds ``max_replica_lag`` is skipped until
a later check finds it caught up. Which database a node uses is decided in
:mod:`dataflow.routing`.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Sequence
from time import monotonic
from typing import TYPE_CHECKING, Any

import attrs

from .dialect import Dialect
from .errors import ConfigError
from .pooling import LoopPools
from .session import Session
from .url import DatabaseURL

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .database import DataFlow
    from .replication import ReplicationProbe

REPLICA_OPTION = "replica"
"""The URL query option naming a replica: a whole URL, or ``host[:port]`` for the same URL on another server."""
LAG_CHECK_INTERVAL = 1.0
"""Seconds between two reads of one replica's lag (a read between them trusts the last one)."""
BACKOFF_START = 0.5
BACKOFF_MAX = 30.0


def split_replica_option(url: DatabaseURL) -> tuple[DatabaseURL, list[DatabaseURL]]:
    """``url`` without its ``?replica=`` options, and the replica URLs they name (repeatable, or comma-separated)."""
    named = [value for key, value in url.query if key == REPLICA_OPTION]
    if not named:
        return url, []
    primary = attrs.evolve(url, query=tuple((k, v) for k, v in url.query if k != REPLICA_OPTION))
    return primary, [replica_url(primary, part.strip()) for value in named for part in value.split(",") if part.strip()]


def replica_url(primary: DatabaseURL, text: str) -> DatabaseURL:
    """A replica URL: ``text`` parsed, or the primary's URL on ``host[:port]`` when ``text`` has no scheme."""
    if "://" in text:
        url = DatabaseURL.parse(text)
    else:
        host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
        if port and not port.isdigit():
            raise ConfigError(f"replica {text!r} is not host[:port] or a database URL", field=REPLICA_OPTION)
        url = attrs.evolve(primary, host=host or text, port=int(port) if port else primary.port)
    if url.scheme != primary.scheme:
        raise ConfigError(
            f"replica {url} is a {url.scheme}:// URL but the primary is {primary.scheme}://; "
            "replicas must be the same database",
            field="replicas",
        )
    return url


class Replica:
    """One read replica: its pools, and what the last connect and lag check found."""

    def __init__(self, url: DatabaseURL, dialect: Dialect) -> None:
        self.url = url
        self.label = str(url)
        self.dialect = dialect
        self.pools = LoopPools(dialect.create_pool)
        self.failures = 0
        self.down_until = 0.0
        self.last_error: str | None = None
        self.lag: float | None = None
        self.lag_checked = -math.inf
        self.replayed: str | None = None
        """The highest replay position read from it so far (positions only grow)."""
        self.covered: str | None = None
        """The last write position seen covered: the same caller's next read skips the probe's comparison."""

    def down(self, now: float) -> bool:
        return now < self.down_until

    def lagging(self, now: float, max_lag: float) -> bool:
        """Did a recent check find it too far behind (or not replicating)?"""
        return now - self.lag_checked < LAG_CHECK_INTERVAL and (self.lag is None or self.lag > max_lag)

    def failed(self, error: BaseException) -> None:
        """Take it out for a backoff that doubles with each failure in a row.

        Sessions that fail together (the server went away under several
        reads) count once: a failure while it is already out changes nothing.
        """
        now = monotonic()
        if now < self.down_until:
            return
        self.failures += 1
        self.down_until = now + min(BACKOFF_MAX, BACKOFF_START * 2 ** (self.failures - 1))
        self.last_error = f"{type(error).__name__}: {getattr(error, 'message', None) or error}"
        self.lag_checked = -math.inf

    def reached(self) -> None:
        self.failures = 0
        self.down_until = 0.0

    def in_use(self) -> int:
        """Connections of its pools lent out now (a counter read, no ``state()`` dict: least_busy asks per read)."""
        return self.pools.in_use()


class ReplicaSession(Session):
    """A session on a replica; ``replica`` says which, so that a failure can take it out."""

    def __init__(self, db: DataFlow, replica: Replica, connection: Any, **options: Any) -> None:
        super().__init__(db, connection, **options)
        self.replica = replica
        self.label = replica.label


@attrs.frozen
class ReplicaStatus:
    """One replica as a health check sees it."""

    replica: str
    status: str
    """``ok``; ``lagging`` (behind more than ``max_replica_lag``); ``not replicating``; ``down``."""
    lag: float | None = None
    error: str | None = None


class ReplicaSet:
    """The read replicas of one ``DataFlow``, and the choice of one for a read."""

    def __init__(self, db: DataFlow, urls: Sequence[DatabaseURL], dialect_cls: type[Dialect]) -> None:
        probe = db.dialect.replication
        if probe is None:
            raise ConfigError(f"the {db.dialect.name} dialect has no read replicas", field="replicas")
        self.probe: ReplicationProbe = probe
        self.config = db.config
        self.replicas = [Replica(url, dialect_cls(url, db.config)) for url in urls]
        self._turn = itertools.count()
        replicas = self.replicas
        self._rotations = tuple(tuple(replicas[i:] + replicas[:i]) for i in range(len(replicas)))
        """Every round-robin order of the whole set, made once: the common read (all usable) allocates none."""
        self._least_busy = db.config.replica_routing == "least_busy"
        self._max_lag = db.config.max_replica_lag

    @classmethod
    def configure(cls, db: DataFlow, from_url: Sequence[DatabaseURL], dialect_cls: type[Dialect]) -> ReplicaSet | None:
        """The replicas of ``db``: its config's, then its URL's; None when it has none."""
        urls = [replica_url(db.url, text) for text in db.config.replicas] + list(from_url)
        if not urls:
            return None
        return cls(db, urls, dialect_cls)

    def __len__(self) -> int:
        return len(self.replicas)

    def candidates(self) -> Sequence[Replica]:
        """Replicas that are neither down nor known to lag, in the order the routing setting picks them."""
        now = monotonic()
        max_lag = self._max_lag
        replicas = self.replicas
        # Inlined Replica.down and Replica.lagging: this runs for every read.
        for r in replicas:
            if now < r.down_until or (now - r.lag_checked < LAG_CHECK_INTERVAL and (r.lag is None or r.lag > max_lag)):
                break
        else:
            rotations = self._rotations
            if self._least_busy:
                return rotations[self._least_busy_index()]
            return rotations[next(self._turn) % len(rotations)]
        usable = [
            r
            for r in replicas
            if now >= r.down_until
            and not (now - r.lag_checked < LAG_CHECK_INTERVAL and (r.lag is None or r.lag > max_lag))
        ]
        if len(usable) < 2:
            return usable
        if self._least_busy:
            return sorted(usable, key=Replica.in_use)
        start = next(self._turn) % len(usable)
        return usable[start:] + usable[:start]

    def _least_busy_index(self) -> int:
        """The first replica with the fewest connections in use: its rotation puts it first, the others after it."""
        best, fewest = 0, -1
        for index, replica in enumerate(self.replicas):
            count = replica.pools.in_use()
            if count == 0:
                return index  # none can be less busy: the first idle one, so sequential reads stay on one server
            if fewest < 0 or count < fewest:
                best, fewest = index, count
        return best

    async def open_session(
        self, db: DataFlow, *, run_id: str | None, context: Mapping[str, Any], needs: str | None
    ) -> ReplicaSession | None:
        """A session on a usable replica that has replayed ``needs`` (a write position); None when none will do."""
        for replica in self.candidates():
            session = await self._connect(db, replica, run_id, context)
            if session is None:
                continue
            try:
                fresh = self.known_fresh(replica, needs)
                if fresh is None:
                    fresh = await self._fresh_enough(replica, session, needs)
            except Exception as exc:  # noqa: BLE001 - a replica that cannot answer is taken out
                replica.failed(exc)
                await session.pool.release(session.connection, discard=True)
                continue
            if fresh:
                return session
            await db.close_session(session)
        return None

    async def _connect(
        self, db: DataFlow, replica: Replica, run_id: str | None, context: Mapping[str, Any]
    ) -> ReplicaSession | None:
        try:
            pool = await replica.pools.get()
            connection = await pool.acquire()
        except Exception as exc:  # noqa: BLE001 - down: the read goes elsewhere
            replica.failed(exc)
            return None
        session = ReplicaSession(db, replica, connection, run_id=run_id, context=context, pool=pool)
        try:
            for hook in db.session_hooks:
                await hook.session_opened(session)
        except BaseException:
            await pool.release(connection, discard=True)
            raise
        replica.reached()
        return session

    def known_fresh(self, replica: Replica, needs: str | None) -> bool | None:
        """Can ``replica`` serve a read that needs ``needs``, from what is known? None: ask it (a round trip).

        The common read decides here, without a coroutine: the lag was read
        under a second ago, and the read needs no position or one it was seen past.
        """
        if monotonic() - replica.lag_checked >= LAG_CHECK_INTERVAL:
            return None
        if replica.lag is None or replica.lag > self._max_lag:
            return False
        if needs is None or needs == replica.covered:
            return True
        if replica.replayed is not None and self.probe.covers(replica.replayed, needs):
            replica.covered = needs
            return True
        return None

    async def _fresh_enough(self, replica: Replica, session: ReplicaSession, needs: str | None) -> bool:
        now = monotonic()
        if now - replica.lag_checked >= LAG_CHECK_INTERVAL:
            replica.lag = await self.probe.lag(session.connection)
            replica.lag_checked = now
        if replica.lag is None or replica.lag > self._max_lag:
            return False
        if needs is None:
            return True
        if replica.replayed is not None and self.probe.covers(replica.replayed, needs):
            return True
        replica.replayed = await self.probe.replay_position(session.connection)
        return replica.replayed is not None and self.probe.covers(replica.replayed, needs)

    async def status(self, timeout: float) -> list[ReplicaStatus]:
        """Every replica's state, read now (a round trip each, at most ``timeout`` seconds); never raises."""
        return list(await asyncio.gather(*(self._status(replica, timeout) for replica in self.replicas)))

    async def _status(self, replica: Replica, timeout: float) -> ReplicaStatus:
        try:
            async with asyncio.timeout(timeout):
                pool = await replica.pools.get()
                connection = await pool.acquire()
                try:
                    lag = await self.probe.lag(connection)
                finally:
                    await pool.release(connection)
        except Exception as exc:  # noqa: BLE001 - a status answers, it does not fail
            error = (
                f"no answer within {timeout:g}s" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            )
            return ReplicaStatus(replica.label, "down", error=error)
        replica.lag, replica.lag_checked = lag, monotonic()
        if lag is None:
            return ReplicaStatus(replica.label, "not replicating")
        return ReplicaStatus(replica.label, "lagging" if lag > self.config.max_replica_lag else "ok", lag)

    # -- closing ----------------------------------------------------------------

    async def close_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        for replica in self.replicas:
            await replica.pools.close_loop(loop)

    def end_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        for replica in self.replicas:
            replica.pools.end_loop(loop)

    def close_all(self) -> None:
        for replica in self.replicas:
            replica.pools.close_all()
            replica.dialect.dispose()
