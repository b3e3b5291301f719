"""Connection pools for dialects to build on: one per event loop, and the set of them of one database.

Drivers' own pools either reset every connection on release (a round trip
DataFlow does not need: it never changes session state), or cannot time out
an acquire, discard a broken connection, or be closed from outside their
loop. This one does all four, and a dialect supplies only how to open, check,
tidy, close and cut one of its connections.

A database keeps one such pool per event loop (a pool and its connections
belong to the loop that made them) in a :class:`LoopPools`, which also ends
each pool with its loop.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import select
import weakref
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Generic, TypeVar

from .dialect import Connection, Pool
from .errors import ConnectionError, PoolTimeoutError
from .loops import on_loop_end

C = TypeVar("C", bound=Connection)

CLOSE_TIMEOUT = 5.0
"""Seconds a graceful close waits for connections in use to come back before cutting them."""


class ConnectionPool(abc.ABC, Generic[C]):
    """Up to ``size`` connections of the running event loop, opened on demand, reused while idle."""

    def __init__(self, *, size: int, timeout: float, label: str) -> None:
        self.size = size
        self.timeout = timeout
        self.label = label
        self.loop = asyncio.get_running_loop()
        self._idle: list[C] = []
        self._in_use: set[C] = set()
        self.in_use = 0
        """Connections lent out now: ``len(self._in_use)`` kept as a number, read per read by replica routing."""
        self._free = size
        """Slots not taken: a slot is taken from acquire to release."""
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._returned = asyncio.Event()
        self._plain_tidy = type(self).tidy is ConnectionPool.tidy
        self._waiting = 0
        self.closed = False

    # -- what a dialect provides ------------------------------------------------------

    @abc.abstractmethod
    async def open_connection(self) -> C:
        """A new connection, ready for use."""

    def usable(self, connection: C) -> bool:
        """Is the connection still open and in a known state?"""
        return True

    def reusable(self, connection: C) -> bool:
        """May an idle connection be handed out again? Adds, say, a limit on idle time to :meth:`usable`."""
        return self.usable(connection)

    async def tidy(self, connection: C) -> bool:
        """Make a returned connection fit for the next user; False discards it."""
        return not connection.in_transaction

    async def close_connection(self, connection: C) -> None:
        """Close gracefully (a goodbye round trip where the protocol has one)."""
        self.cut(connection)

    @abc.abstractmethod
    def cut(self, connection: C) -> None:
        """Close at once, without the event loop (which may be stopped or closed)."""

    def adopt(self, connection: C) -> None:
        """Add an open connection as idle (the one a dialect used to learn the server's version)."""
        self._idle.append(connection)

    # -- the Pool protocol ----------------------------------------------------------------

    async def acquire(self) -> C:
        if self.closed:
            raise ConnectionError(f"the connection pool of {self.label} is closed")
        if asyncio.get_running_loop() is not self.loop:
            raise ConnectionError(f"the connection pool of {self.label} belongs to another event loop")
        if self._free and not self._slot_waiters:
            self._free -= 1  # a free slot, and nobody queued before us: no suspension
        else:
            await self._wait_for_slot()
        try:
            idle = self._idle
            while idle:
                connection = idle.pop()
                if self.reusable(connection):
                    break
                self.cut(connection)
            else:
                connection = await self.open_connection()
        except BaseException:
            self._give_slot()
            raise
        self._in_use.add(connection)
        self.in_use = len(self._in_use)
        return connection

    async def _wait_for_slot(self) -> None:
        """Queue for a slot (first come, first served): :meth:`_give_slot` hands it over."""
        self._waiting += 1
        waiter: asyncio.Future[None] = self.loop.create_future()
        self._slot_waiters.append(waiter)
        try:
            async with asyncio.timeout(self.timeout):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._give_slot()  # handed a slot just as the wait ended: pass it on
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._slot_waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise PoolTimeoutError(
                    f"no connection to {self.label} became free within {self.timeout:g}s "
                    f"(pool size {self.size}); raise pool_size or pool_timeout, or release connections sooner"
                ) from None
            raise
        finally:
            self._waiting -= 1

    def _give_slot(self) -> None:
        """A slot is free: to the first one waiting, or back to the free count."""
        waiters = self._slot_waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    async def release(self, connection: Connection, *, discard: bool = False) -> None:
        if connection not in self._in_use:
            return  # not ours, or already given back
        mine = connection  # narrowed to C by the membership test
        self._in_use.discard(mine)
        self.in_use = len(self._in_use)
        try:
            keep = not discard and not self.closed and self.usable(mine)
            if keep and self._plain_tidy:
                keep = not mine.in_transaction  # tidy() as this class has it, without its coroutine
            elif keep:
                try:
                    keep = await self.tidy(mine)
                except Exception:  # noqa: BLE001 - a connection that cannot be tidied is not reused
                    keep = False
            if keep:
                self._idle.append(mine)
            elif discard or not self.usable(mine):
                self.cut(mine)
            else:
                await self.close_connection(mine)
        finally:
            self._give_slot()
            self._returned.set()

    async def close(self) -> None:
        """Close idle connections now and the others as they come back (cut after ``CLOSE_TIMEOUT``)."""
        self.closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self.close_connection(c) for c in idle), return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                while self._in_use:
                    self._returned.clear()
                    await self._returned.wait()
        self.terminate()

    def terminate(self) -> None:
        """Cut every connection at once; safe when the pool's loop is stopped or closed."""
        self.closed = True
        for connection in [*self._idle, *self._in_use]:
            with contextlib.suppress(Exception):
                self.cut(connection)
        self._idle.clear()
        self._in_use.clear()
        self.in_use = 0

    def state(self) -> Mapping[str, int]:
        in_use, idle = len(self._in_use), len(self._idle)
        return {"size": in_use + idle, "in_use": in_use, "idle": idle, "waiting": self._waiting}


def socket_is_quiet(sock: Any) -> bool:
    """Has an idle connection's socket nothing to read (no bytes, no end of stream, no error)?

    A server ending an idle session (a kill, a restart, an idle timeout)
    sends a last error message and closes, which makes the socket readable
    at once, even when the connection's event loop has not run since (the
    synchronous face runs its loop only during a run, so the driver has not
    noticed). One poll, no round trip. ``sock`` has a ``fileno()``; None
    (no socket to ask) counts as quiet.
    """
    if sock is None:
        return True
    try:
        fd = sock.fileno()
        if fd < 0:
            return False
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(fd, select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        return not select.select([fd], [], [fd], 0)[0]  # no poll() on Windows
    except (OSError, ValueError):
        return False


class LoopPools:
    """One database's pools, one per event loop, each made on first use on its loop.

    A pool lives no longer than its loop: the pool of a thread's private
    loop (the synchronous face) is closed when the thread ends, or at
    interpreter exit; those of loops that were closed without closing their
    pool (after ``asyncio.run``) are cut when the next pool is made.
    """

    def __init__(self, create: Callable[[], Coroutine[Any, Any, Pool]]) -> None:
        self._create = create
        self._made: dict[asyncio.AbstractEventLoop, asyncio.Future[Pool]] = {}
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._ready_pools: tuple[Pool, ...] = ()
        """The pools made and not forgotten, as one tuple (replaced, never changed: other threads read it)."""
        self._last: tuple[asyncio.AbstractEventLoop, Pool] | None = None
        """The loop and pool :meth:`get` gave last: most programs run one loop, asked on every session."""

    @staticmethod
    def _ready(future: asyncio.Future[Pool] | None) -> Pool | None:
        """The pool ``future`` made; None while it is being made, or when making it failed."""
        if future is None or not future.done() or future.cancelled() or future.exception() is not None:
            return None
        return future.result()

    def current(self) -> Pool | None:
        """The pool :meth:`get` gave last, if it is the running loop's (no coroutine: asked for every session)."""
        last = self._last
        return last[1] if last is not None and last[0] is asyncio.get_running_loop() else None

    async def get(self) -> Pool:
        """The running loop's pool, made on first use; a failure to make it is not remembered."""
        loop = asyncio.get_running_loop()
        last = self._last
        if last is not None and last[0] is loop:
            return last[1]
        future = self._made.get(loop)
        pool = self._ready(future)
        if pool is not None:
            self._last = (loop, pool)
            return pool
        if future is None:
            self._cut_pools_of_closed_loops()
            future = self._made[loop] = loop.create_task(self._create())
            future.add_done_callback(self._made_one)
            on_loop_end(loop, _ender(self))
        try:
            # Shielded: one caller's cancellation must not cancel the pool others wait for.
            return await asyncio.shield(future)
        except BaseException:
            if future.done() and self._ready(future) is None and self._made.get(loop) is future:
                del self._made[loop]
            raise

    def lock(self) -> asyncio.Lock:
        """A lock of the running loop that lives as long as its pool (for work done once per pool)."""
        return self._locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())

    def serves(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Has ``loop`` a pool (or one being made)?"""
        return loop in self._made

    def pools(self) -> list[Pool]:
        """The pools made so far and not closed, one per loop."""
        return [pool for future in list(self._made.values()) if (pool := self._ready(future)) is not None]

    def in_use(self) -> int:
        """Connections lent out by all these pools now, without a list or a dict (replica routing asks per read)."""
        ready = self._ready_pools
        if len(ready) == 1:
            return ready[0].in_use
        return sum(pool.in_use for pool in ready)

    def _made_one(self, future: asyncio.Future[Pool]) -> None:
        pool = self._ready(future)
        if pool is not None:
            self._ready_pools = (*self._ready_pools, pool)

    def _forget(self, loop: asyncio.AbstractEventLoop) -> Pool | None:
        self._locks.pop(loop, None)
        self._last = None
        pool = self._ready(self._made.pop(loop, None))
        if pool is not None:
            self._ready_pools = tuple(p for p in self._ready_pools if p is not pool)
        return pool

    async def close_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the pool of ``loop`` (the running one), if it has one."""
        pool = self._forget(loop)
        if pool is not None:
            await pool.close()

    def end_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the pool of ``loop``, which is not running: gracefully on it if it is open, else cut."""
        pool = self._forget(loop)
        if pool is None:
            return
        if loop.is_closed():
            pool.terminate()
            return
        try:
            loop.run_until_complete(pool.close())
        except BaseException:  # what a graceful close left open is cut instead
            pool.terminate()
            raise

    def close_all(self) -> None:
        """Close every pool: on its loop where that runs (in another thread), else cut."""
        for loop in list(self._made):
            pool = self._forget(loop)
            if pool is None:
                continue
            if loop.is_running() and not loop.is_closed():
                asyncio.run_coroutine_threadsafe(pool.close(), loop).result(timeout=30)
            else:
                pool.terminate()

    def _cut_pools_of_closed_loops(self) -> None:
        """Pools of loops that ended without ``close_async`` (e.g. after ``asyncio.run``) hold connections."""
        # A copy: other threads add and end their loops' pools meanwhile.
        for loop in [loop for loop in list(self._made) if loop.is_closed()]:
            pool = self._forget(loop)
            if pool is not None:
                pool.terminate()


def _ender(pools: LoopPools) -> Callable[[asyncio.AbstractEventLoop], None]:
    """``pools.end_loop``, without keeping ``pools`` (and its database) alive until the thread ends."""
    ref = weakref.ref(pools)

    def end(loop: asyncio.AbstractEventLoop) -> None:
        target = ref()
        if target is not None:
            target.end_loop(loop)

    return end
