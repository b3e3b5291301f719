"""Running async code from synchronous callers without sharing loops between threads.

A synchronous facade (``LocalRuntime.execute``, ``db.close()``) runs its
coroutine on a loop private to the calling thread, kept for the thread's
later calls so that pools bound to it can be reused. When the caller is
already inside a running loop, the coroutine runs in a fresh thread on a
fresh loop, and everything bound to that loop is closed before returning.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_local = threading.local()


def thread_loop() -> asyncio.AbstractEventLoop:
    """This thread's private loop for synchronous facades."""
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
    return loop


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
