"""Run ids: 32 hex digits, unique per process run, made without a system call.

A run id is opaque: monitors, audit trails and errors use it to tell runs
apart, never to guess one. Half of it is random per process (made again in a
forked child), half a counter (started at random), so that a one-node run does not pay a
``getrandom`` call (``os.urandom``) for it.
"""

from __future__ import annotations

import itertools
import os

_prefix = os.urandom(8).hex()
_counter = itertools.count(int.from_bytes(os.urandom(4), "big"))


def _reseed() -> None:
    global _prefix, _counter  # per-process state, made again in a forked child
    _prefix = os.urandom(8).hex()
    _counter = itertools.count(int.from_bytes(os.urandom(4), "big"))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


def new_run_id() -> str:
    """A new run id: 16 hex digits of this process's random prefix, then 16 of a counter."""
    return "%s%016x" % (_prefix, next(_counter))  # noqa: UP031 - a third faster than an f-string here
