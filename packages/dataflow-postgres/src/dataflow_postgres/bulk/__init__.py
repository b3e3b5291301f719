"""PostgreSQL bulk strategies, offered by ``PostgresDialect.bulk_strategies`` on PostgreSQL databases only.

| operation | strategy (priority) | how |
|---|---|---|
| create | ``copy`` (30), ``unnest`` (20) | binary COPY; ``INSERT ... SELECT FROM unnest`` |
| upsert | ``copy_merge`` (30), ``unnest`` (20) | COPY to a temp table (or unnest), one ``INSERT ... ON CONFLICT`` |
| update | ``unnest`` (30) | ``UPDATE ... FROM unnest(...)`` joined on the key |
| delete | ``unnest`` (30) | ``DELETE ... WHERE pk = ANY($1)`` |

The ``unnest`` strategies do not apply to rows with a native array column
(``Array()`` fields): unnest would flatten them. ``copy``/``copy_merge``
carry arrays natively; updates fall back to the core's ``executemany``.

The core's generic strategies (``executemany``, ``values``, ``upsert``,
``in_list``) stay available by name.
"""

from __future__ import annotations

from dataflow.bulk.strategy import BulkStrategy

from .create import CopyInsert, UnnestInsert
from .keys import AnyArrayDelete, UnnestUpdate
from .upsert import CopyMerge, UnnestMerge

STRATEGIES: tuple[BulkStrategy, ...] = (
    CopyInsert(),
    UnnestInsert(),
    CopyMerge(),
    UnnestMerge(),
    UnnestUpdate(),
    AnyArrayDelete(),
)

__all__ = ["STRATEGIES", "AnyArrayDelete", "CopyInsert", "CopyMerge", "UnnestInsert", "UnnestMerge", "UnnestUpdate"]
