"""Saga ids, and the idempotency keys of saga steps in the steps' own databases.

A step runs under the marker key ``saga:<id>:<step>`` (its compensation
under ``...:undo``). The runner writes these keys; retention reads them back
to tell whose markers may go.
"""

from __future__ import annotations

import re

SAGA_ID = re.compile(r"\A[A-Za-z0-9_.:-]{1,100}\Z")
MARKER_PREFIX = "saga:"
UNDO_SUFFIX = ":undo"


def check_saga_id(key: str) -> str:
    if not isinstance(key, str) or SAGA_ID.match(key) is None:
        raise ValueError(f"saga key {key!r}: use 1-100 of letters, digits, '_', '.', ':' and '-'")
    return key


def marker_key(saga_id: str, step: str, undo: bool = False) -> str:
    """The idempotency key of a saga step (or of its compensation) in the step's database."""
    return f"{MARKER_PREFIX}{saga_id}:{step}" + (UNDO_SUFFIX if undo else "")


def saga_ids_of_marker(key: str) -> tuple[str, ...]:
    """The saga ids a step's marker key may belong to; empty for a key that is not a saga step's.

    Saga ids may contain ':', and a step may be named ``undo``, so
    ``saga:a:b:undo`` is either the compensation of step ``b`` of saga ``a``
    or step ``undo`` of saga ``a:b``: both are returned.
    """
    if not key.startswith(MARKER_PREFIX):
        return ()
    rest = key[len(MARKER_PREFIX) :]
    forms = [rest, rest[: -len(UNDO_SUFFIX)]] if rest.endswith(UNDO_SUFFIX) else [rest]
    candidates = (form.rpartition(":")[0] for form in forms)
    return tuple(dict.fromkeys(saga_id for saga_id in candidates if SAGA_ID.match(saga_id)))
