"""SQL text as a monitor may show it: every literal value replaced by ``?``.

DataFlow's own statements bind their values, but the text a server reports
(MySQL's ``trx_query`` of a connection that renders parameters on the
client, another application's statement) carries them as literals. Quoted
identifiers are kept as they are; a string cut short by the server (its
closing quote missing) is replaced too; repeated rows of a multi-row
``VALUES`` list collapse into one.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
    (?P<identifier>"(?:[^"]|"")*"|`(?:[^`]|``)*`)
    | (?P<dollar>\$(?P<tag>[A-Za-z_]\w*|)\$.*?(?:\$(?P=tag)\$|\Z))
    | (?P<string>(?:\b[xXbBnNeE]|\b_[A-Za-z0-9]+)?'(?:[^'\\]|\\.|'')*(?:'|\\?\Z))
    | (?P<hex>\b0[xX][0-9a-fA-F]+\b)
    | (?P<number>(?<![\w$."])-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
    """,
    re.VERBOSE | re.DOTALL,
)
_REPEATED_ROWS = re.compile(r"(\(\s*\?(?:\s*,\s*\?)*\s*\))(?:\s*,\s*\1)+")


def _replace(found: re.Match[str]) -> str:
    return found.group() if found.lastgroup == "identifier" else "?"


def fingerprint(sql: str | None) -> str | None:
    """``sql`` without its literal values (None stays None: a session idle in its transaction)."""
    if sql is None:
        return None
    return _REPEATED_ROWS.sub(r"\1", _TOKEN.sub(_replace, sql))
