"""Running async code from synchronous callers without sharing loops between threads.

A synchronous facade (``LocalRuntime.execute``, ``db.close()``) runs its
coroutine on a loop private to the calling thread, kept for the thread's
later calls so that pools bound to it can be reused. A private loop ends with
its thread (or at interpreter exit, for the main thread and threads still
running then): what was bound to it is told first, through
:func:`on_loop_end`, and the loop is closed. When the caller is already inside
a running loop, the coroutine runs in a fresh thread on a fresh loop, and
everything bound to that loop is closed before returning.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
LoopEndCallback = Callable[[asyncio.AbstractEventLoop], None]


class _PrivateLoop:
    """A thread's private loop, and what to do when it ends.

    Kept only in a ``threading.local``: when the thread ends, Python drops
    the thread's locals, and :meth:`__del__` ends the loop on that thread,
    before ``Thread.join()`` returns.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.at_end: list[LoopEndCallback] = []
        self.pid = os.getpid()

    def end(self) -> None:
        """Tell everything bound to the loop, then close it (once; never while it runs)."""
        if self.loop.is_running() or self.pid != os.getpid():
            # A forked child holds copies of its parent's connections: a goodbye on them
            # would end the parent's sessions. The child leaves them alone.
            return
        callbacks, self.at_end = self.at_end, []
        for callback in callbacks:
            # Ending is best effort: it runs at thread or interpreter exit, where nobody can catch.
            with contextlib.suppress(Exception):
                callback(self.loop)
        if not self.loop.is_closed():
            self.loop.close()

    def __del__(self) -> None:
        self.end()


_local = threading.local()
# Every private loop not ended yet, for the interpreter's exit; weak, so a thread's end still frees its loop.
_private: weakref.WeakSet[_PrivateLoop] = weakref.WeakSet()


def _private_loop() -> _PrivateLoop | None:
    private: _PrivateLoop | None = getattr(_local, "private", None)
    if private is None or private.loop.is_closed() or private.pid != os.getpid():
        return None
    return private


def thread_loop() -> asyncio.AbstractEventLoop:
    """This thread's private loop for synchronous facades, created on first use."""
    private = _private_loop()
    if private is None:
        private = _local.private = _PrivateLoop()
        _private.add(private)
    return private.loop


def existing_thread_loop() -> asyncio.AbstractEventLoop | None:
    """This thread's private loop if it has one (never creates it)."""
    private = _private_loop()
    return private.loop if private is not None else None


def on_loop_end(loop: asyncio.AbstractEventLoop, callback: LoopEndCallback) -> bool:
    """Call ``callback(loop)`` when ``loop``, this thread's private loop, ends; False for any other loop.

    The callback runs on the ending thread with no loop running (it may run
    ``loop`` to completion of a coroutine), or at interpreter exit; it must
    not raise, log or block for long.
    """
    private = _private_loop()
    if private is None or private.loop is not loop:
        return False
    private.at_end.append(callback)
    return True


def _end_private_loops() -> None:
    """At interpreter exit: end every private loop, before its objects are torn down in any order."""
    for private in list(_private):
        private.end()


atexit.register(_end_private_loops)


def running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def run_sync(
    make: Callable[[], Coroutine[Any, Any, T]],
    cleanup: Callable[[asyncio.AbstractEventLoop], Awaitable[None]] | None = None,
) -> T:
    """Run ``make()`` to completion from synchronous code.

    ``cleanup(loop)`` runs before a temporary loop is closed, so that pools
    created on it are closed on it.
    """
    if running_loop() is None:
        return thread_loop().run_until_complete(make())

    outcome: dict[str, Any] = {}

    async def main() -> T:
        try:
            return await make()
        finally:
            if cleanup is not None:
                await cleanup(asyncio.get_running_loop())

    # The caller's context variables (a tenant, say) hold in the worker thread too.
    context = contextvars.copy_context()

    def worker() -> None:
        try:
            outcome["value"] = context.run(asyncio.run, main())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=worker, name="dataflow-sync")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    result: T = outcome["value"]
    return result
