"""Named placeholders in raw SQL (``:name``), turned into the dialect's own, values bound, never pasted.

``SELECT * FROM orders WHERE total > :least AND region = :region`` with
``{"least": 10, "region": "EU"}``. A placeholder is ``:`` followed by an
identifier, outside string literals, quoted identifiers and comments; ``::``
(PostgreSQL's cast) is left alone. A placeholder may appear more than once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from .dialect import Dialect
from .errors import ValidationError
from .schema import suggest

# Skipped whole: '...' strings, "..." and `...` identifiers, -- and /* */ comments, and ::.
_TOKEN = r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|--[^\n]*|/\*.*?\*/|::|:([A-Za-z_][A-Za-z0-9_]*)"""


@functools.cache
def _token() -> re.Pattern[str]:
    """The token pattern, compiled on first use rather than at ``import dataflow``."""
    return re.compile(_TOKEN, re.S)


def placeholder_names(query: str) -> list[str]:
    """The names of ``query``'s placeholders, in order of first appearance."""
    return list(dict.fromkeys(m.group(1) for m in _token().finditer(query) if m.group(1)))


def bind_named(query: str, params: Mapping[str, Any] | None, dialect: Dialect) -> tuple[str, list[Any]]:
    """``query`` with the dialect's placeholders, and the values in their order.

    A placeholder without a value, or a value without a placeholder, is a
    ``ValidationError`` naming it, before anything reaches the database.
    """
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("query must be a non-empty SQL string", field="query")
    params = dict(params or {})
    if not all(isinstance(name, str) for name in params):
        raise ValidationError("params must map placeholder names to values", field="params")
    names = placeholder_names(query)
    for name in names:
        if name not in params:
            raise ValidationError(
                f"query uses :{name}, which params does not give{suggest(name, params)}", field=f"params.{name}"
            )
    for name in params:
        if name not in names:
            raise ValidationError(
                f"params gives {name!r}, which the query does not use{suggest(name, names)}", field=f"params.{name}"
            )
    values: list[Any] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if not name:
            return match.group(0)
        values.append(params[name])
        return dialect.placeholder(len(values))

    return _token().sub(replace, query), values
