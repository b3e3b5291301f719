"""The query options of a ``postgresql://`` URL, checked once into a frozen object.

``postgresql://user@host:5432/db?pool_size=20&schema=app&pgbouncer=true``

Options in the URL win over the matching ``DataFlow(...)`` settings
(``pool_size``, ``pool_timeout``, ``connect_timeout``); an unknown option is
a ``ConfigError`` that names the nearest valid one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from dataflow.config import Config
from dataflow.errors import ConfigError
from dataflow.schema import suggest

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_APPLICATION_NAME = "dataflow"


@attrs.frozen
class PostgresOptions:
    """Connection and pool settings of one PostgreSQL URL."""

    pool_size: int
    pool_timeout: float
    connect_timeout: float
    command_timeout: float | None = None
    """Seconds any one statement may run before it is cancelled (client side); None: no limit."""
    sslmode: str | None = None
    """libpq's sslmode; None leaves asyncpg's default (``PGSSLMODE`` or ``prefer``)."""
    application_name: str = DEFAULT_APPLICATION_NAME
    schema: str | None = None
    """The schema tables live in: the connection's whole ``search_path``."""
    statement_cache_size: int = 100
    """asyncpg's prepared-statement cache per connection; 0 for PgBouncer in transaction mode."""
    pgbouncer: bool = False
    """Behind PgBouncer in transaction mode: no cached statements, and no session state (no ``schema``)."""


def _positive_number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"postgresql URL option {name} must be a number, got {text!r}", field=name) from None
    if not value > 0:
        raise ConfigError(f"postgresql URL option {name} must be positive, got {text!r}", field=name)
    return value


def _positive_int(name: str, text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"postgresql URL option {name} must be a positive integer, got {text!r}", field=name)
    return int(text)


def _non_negative_int(name: str, text: str) -> int:
    if not text.isdigit():
        raise ConfigError(f"postgresql URL option {name} must be a non-negative integer, got {text!r}", field=name)
    return int(text)


def _boolean(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"postgresql URL option {name} must be true or false, got {text!r}", field=name)


def _sslmode(name: str, text: str) -> str:
    if text not in SSL_MODES:
        modes = ", ".join(SSL_MODES)
        raise ConfigError(f"postgresql URL option sslmode must be one of {modes}, got {text!r}", field=name)
    return text


def _text(name: str, text: str) -> str:
    if not text or "\x00" in text:
        raise ConfigError(f"postgresql URL option {name} must be a non-empty string", field=name)
    return text


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "pool_size": _positive_int,
    "pool_timeout": _positive_number,
    "connect_timeout": _positive_number,
    "command_timeout": _positive_number,
    "sslmode": _sslmode,
    "application_name": _text,
    "schema": _text,
    "statement_cache_size": _non_negative_int,
    "pgbouncer": _boolean,
}

OPTIONS = tuple(_PARSERS)


def parse_options(query: Mapping[str, str], config: Config) -> PostgresOptions:
    """Check every query option of the URL and merge them over ``config``."""
    values: dict[str, Any] = {
        "pool_size": config.pool_size,
        "pool_timeout": config.pool_timeout,
        "connect_timeout": config.connect_timeout,
    }
    pgbouncer = False
    for name, text in query.items():
        parser = _PARSERS.get(name)
        if parser is None:
            raise ConfigError(
                f"unknown postgresql URL option {name!r}{suggest(name, OPTIONS)}; options: {', '.join(OPTIONS)}",
                field=name,
            )
        value = parser(name, text)
        if name == "pgbouncer":
            pgbouncer = value
        else:
            values[name] = value
    if pgbouncer:
        # Transaction-mode PgBouncer may hand each statement another server
        # connection, where a named prepared statement does not exist.
        values["statement_cache_size"] = 0
        values["pgbouncer"] = True
        if "schema" in values:
            # schema= is the startup parameter search_path, which PgBouncer 1.18 refuses
            # ("unsupported startup parameter") or, listed in ignore_startup_parameters, drops.
            raise ConfigError(
                "postgresql URL option schema does not reach the server through PgBouncer (pgbouncer=true): "
                "PgBouncer passes no search_path; set the role's (ALTER ROLE ... SET search_path = ...) "
                "or give the tables a database of their own",
                field="schema",
            )
    return PostgresOptions(**values)
