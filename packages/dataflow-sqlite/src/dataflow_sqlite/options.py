"""The query options of a ``sqlite://`` URL, checked once into a frozen object.

``sqlite:///app.db?timeout=5&synchronous=FULL``

An unknown option is a ``ConfigError`` that names the nearest valid one, as
on PostgreSQL and MySQL: a typo (``?timout=5``) must not be ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs

from dataflow.errors import ConfigError
from dataflow.schema import suggest

SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")

OPTIONS = {
    "timeout": "seconds a connection waits for another one's write lock (busy timeout); default 30",
    "synchronous": f"PRAGMA synchronous: {', '.join(SYNCHRONOUS)}; default NORMAL",
}


@attrs.frozen
class SQLiteOptions:
    """The settings one SQLite URL carries."""

    timeout: float = 30.0
    synchronous: str = "NORMAL"


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value >= 0 or math.isinf(value):
        raise ConfigError(
            f"sqlite URL option timeout must be a number of seconds, 0 or more, got {text!r}", field="timeout"
        )
    return value


def _synchronous(text: str) -> str:
    value = text.upper()
    if value not in SYNCHRONOUS:
        raise ConfigError(
            f"sqlite URL option synchronous must be {', '.join(SYNCHRONOUS[:-1])} or {SYNCHRONOUS[-1]}, got {text!r}",
            field="synchronous",
        )
    return value


def parse_options(query: Mapping[str, str]) -> SQLiteOptions:
    """Check every query option of the URL; raise ``ConfigError`` for an unknown one or a bad value."""
    for name in query:
        if name not in OPTIONS:
            raise ConfigError(
                f"unknown sqlite URL option {name!r}{suggest(name, OPTIONS)}; options: {', '.join(OPTIONS)}",
                field=name,
            )
    defaults = SQLiteOptions()
    return SQLiteOptions(
        timeout=_timeout(query["timeout"]) if "timeout" in query else defaults.timeout,
        synchronous=_synchronous(query["synchronous"]) if "synchronous" in query else defaults.synchronous,
    )
