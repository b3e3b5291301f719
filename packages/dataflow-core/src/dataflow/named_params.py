"""Named placeholders in raw SQL (``:name``), turned into the dialect's own, values bound, never pasted.

``SELECT * FROM orders WHERE total > :least AND region = :region`` with
``{"least": 10, "region": "EU"}``. A placeholder is ``:`` followed by an
identifier, outside string literals, quoted identifiers and comments; ``::``
(PostgreSQL's cast) is left alone. A placeholder may appear more than once.

The query is one statement: a ``;`` followed by more SQL is refused, on every
backend alike (MySQL's connections take several statements in one query, the
others refuse them with a driver error).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .dialect import Dialect
from .errors import ValidationError
from .schema import suggest

# Skipped whole: '...' strings, "..." and `...` identifiers, $tag$...$tag$ (PostgreSQL), -- and /* */ comments, ::.
# Group 1 is a dollar-quote tag, group 2 a placeholder's name, group 3 a statement separator.
_TOKEN = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|(\$[A-Za-z_]*\$).*?\1|--[^\n]*|/\*.*?\*/|::"""
    r"""|:([A-Za-z_][A-Za-z0-9_]*)|(;)""",
    re.S,
)
_NAME, _SEPARATOR = 2, 3
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


def placeholder_names(query: str) -> list[str]:
    """The names of ``query``'s placeholders, in order of first appearance."""
    return list(dict.fromkeys(m.group(_NAME) for m in _TOKEN.finditer(query) if m.group(_NAME)))


def refuse_several_statements(query: str) -> None:
    """A ``;`` with more SQL after it (comments and blanks aside) is a ``ValidationError`` on ``query``."""
    for match in _TOKEN.finditer(query):
        if match.group(_SEPARATOR) and _COMMENT.sub("", query[match.end() :]).strip(" \t\r\n;"):
            raise ValidationError(
                "query must be one statement: it has more SQL after a ';' (run each statement on its own)",
                field="query",
            )


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
    refuse_several_statements(query)
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
    if not names:
        return query, []  # nothing to bind: drivers take the text as it is
    pieces: list[str] = []
    values: list[Any] = []
    end = 0
    for match in _TOKEN.finditer(query):
        if match.group(_NAME):
            # The text around placeholders as the driver needs it (MySQL's formats with %, so % is doubled).
            pieces.append(dialect.raw_sql_text(query[end : match.start()]))
            values.append(params[match.group(_NAME)])
            pieces.append(dialect.placeholder(len(values)))
            end = match.end()
    pieces.append(dialect.raw_sql_text(query[end:]))
    return "".join(pieces), values
