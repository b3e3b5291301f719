"""Reading the state of an instance's pools without touching them.

The core keeps one pool per event loop and does not (yet) report pool state
in events, so the monitor samples ``pool.state()`` when asked (at scrape and
snapshot time). See the package README: with a public ``DataFlow.pools()``
this module would not need the private ``_pools`` mapping.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("dataflow.monitor")
POOL_KEYS = ("size", "in_use", "idle", "waiting")


def live_pools(db: Any) -> list[Any]:
    """The pools ``db`` has open, one per event loop (none before its first run)."""
    public = getattr(db, "pools", None)
    if callable(public):
        return list(public())
    pools: Mapping[Any, Any] = getattr(db, "_pools", {})
    found = []
    for future in list(pools.values()):
        try:
            if future.done() and not future.cancelled() and future.exception() is None:
                found.append(future.result())
        except Exception:  # noqa: BLE001 - a future of another thread's loop may change under us
            continue
    return found


def pool_state(db: Any) -> dict[str, Any] | None:
    """``{"size", "in_use", "idle", "waiting"}`` (and any other counts the pools report, such as
    ``waits`` and ``wait_seconds``) summed over ``db``'s pools; None when it has none."""
    pools = live_pools(db)
    if not pools:
        return None
    total: dict[str, Any] = dict.fromkeys(POOL_KEYS, 0)
    for pool in pools:
        try:
            state = pool.state()
        except Exception:  # a closing pool: count what can be counted
            log.debug("pool state of %s unavailable", getattr(db, "label", db), exc_info=True)
            continue
        for key, value in state.items():
            if isinstance(value, (int, float)):
                total[key] = total.get(key, 0) + value
    return total
