"""Reading the state of an instance's pools without touching them.

The core keeps one pool per event loop (``DataFlow.pools()``); the monitor
samples ``pool.state()`` when asked (at scrape and snapshot time).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataflow import DataFlow

log = logging.getLogger("dataflow.monitor")
POOL_KEYS = ("size", "in_use", "idle", "waiting")


def pool_state(db: DataFlow) -> dict[str, Any] | None:
    """``{"size", "in_use", "idle", "waiting"}`` (and any other counts the pools report, such as
    ``waits`` and ``wait_seconds``) summed over ``db``'s pools; None when it has none."""
    pools = db.pools()
    if not pools:
        return None
    total: dict[str, Any] = dict.fromkeys(POOL_KEYS, 0)
    for pool in pools:
        try:
            state = pool.state()
        except Exception:  # a closing pool: count what can be counted
            log.debug("pool state of %s unavailable", db.label, exc_info=True)
            continue
        for key, value in state.items():
            if isinstance(value, (int, float)):
                total[key] = total.get(key, 0) + value
    return total
