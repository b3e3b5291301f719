"""The query options of ``mysql://`` URLs, checked once when the dialect is made.

``mysql://user:password@host:3306/db?pool_size=20&connect_timeout=5&local_infile=true``
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import attrs

from dataflow.config import Config
from dataflow.errors import ConfigError
from dataflow.schema import suggest
from dataflow.url import DatabaseURL

OPTIONS = {
    "pool_size": "connections per pool (overrides DataFlow's pool_size)",
    "pool_timeout": "seconds to wait for a free connection (overrides DataFlow's pool_timeout)",
    "connect_timeout": "seconds to wait for the server when connecting",
    "charset": "always utf8mb4; any other value is refused",
    "local_infile": "allow LOAD DATA LOCAL INFILE (the 'load_data' bulk strategy); default false",
    "ssl": "required (or true) to refuse a connection without TLS, prefer for TLS when the server offers it, "
    "false for none; default false",
    "sslmode": "the PostgreSQL spelling of ssl: disable, prefer or require",
    "ssl_ca": "a CA bundle file that signs the server's certificate (implies ssl)",
    "ssl_cert": "a client certificate file (implies ssl)",
    "ssl_key": "the client certificate's key file",
    "ssl_verify": "false to skip certificate and host name checks (testing only)",
    "migrate_lock_timeout": "seconds a migration waits for another one to finish (GET_LOCK); default 60",
}
MIGRATE_LOCK_TIMEOUT = 60.0
"""Seconds a migration waits for another one (the ``migrate_lock_timeout`` option's default)."""

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
SSL_MODES = {
    **dict.fromkeys((*_FALSE, "disable", "disabled"), "disable"),
    **dict.fromkeys(("prefer", "preferred"), "prefer"),
    **dict.fromkeys((*_TRUE, "require", "required"), "require"),
}
"""Spellings of the ``ssl`` option: MySQL's (``REQUIRED``, ``PREFERRED``), PostgreSQL's, booleans."""


class TLSNotNegotiated(Exception):
    """TLS is required but the server did not offer it: raised before any credential is sent."""


def tls_failure(error: BaseException) -> str | None:
    """The reason of the TLS handshake failure behind ``error`` (the driver wraps it), or None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return str(current.verify_message or current.reason or current)
        if isinstance(current, ssl.SSLError):
            return str(current.reason or current)
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _flag(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"mysql URL option {name}={value!r} must be true or false", field=name)


def _number(name: str, value: str, kind: type[int] | type[float]) -> float:
    try:
        number = kind(value)
    except ValueError:
        raise ConfigError(f"mysql URL option {name}={value!r} must be a number", field=name) from None
    if number <= 0:
        raise ConfigError(f"mysql URL option {name}={value!r} must be positive", field=name)
    return number


@attrs.frozen
class ConnectOptions:
    """Everything needed to open one connection; ``password`` never shows in a repr."""

    host: str
    port: int
    user: str | None
    password: str = attrs.field(repr=False)
    database: str
    pool_size: int
    pool_timeout: float
    connect_timeout: float
    local_infile: bool
    ssl: ssl.SSLContext | None = attrs.field(repr=lambda context: "on" if context else "off")
    ssl_required: bool = False
    """Refuse to authenticate unless TLS is negotiated (``ssl=required``); else TLS only when the server offers it."""
    migrate_lock_timeout: float = MIGRATE_LOCK_TIMEOUT

    @classmethod
    def from_url(cls, url: DatabaseURL, config: Config) -> ConnectOptions:
        options: Mapping[str, str] = url.options
        for name in options:
            if name not in OPTIONS:
                raise ConfigError(
                    f"unknown mysql URL option {name!r}{suggest(name, OPTIONS)}; options: {', '.join(OPTIONS)}",
                    field=name,
                )
        charset = options.get("charset", "utf8mb4").lower()
        if charset != "utf8mb4":
            raise ConfigError(
                f"mysql URL option charset={charset!r} is not supported: DataFlow always uses utf8mb4", field="charset"
            )
        if not url.database:
            raise ConfigError(f"the mysql URL {url} names no database; add one: mysql://user@host:3306/<database>")
        mode = _ssl_mode(options)
        return cls(
            host=url.host or "localhost",
            port=url.port or 3306,
            user=url.username,
            password=url.password or "",
            database=url.database,
            pool_size=int(_number("pool_size", options["pool_size"], int))
            if "pool_size" in options
            else config.pool_size,
            pool_timeout=(
                _number("pool_timeout", options["pool_timeout"], float)
                if "pool_timeout" in options
                else config.pool_timeout
            ),
            connect_timeout=(
                _number("connect_timeout", options["connect_timeout"], float)
                if "connect_timeout" in options
                else config.connect_timeout
            ),
            local_infile=_flag("local_infile", options.get("local_infile", "false")),
            ssl=_ssl_context(options, mode),
            ssl_required=mode == "require",
            migrate_lock_timeout=(
                _number("migrate_lock_timeout", options["migrate_lock_timeout"], float)
                if "migrate_lock_timeout" in options
                else MIGRATE_LOCK_TIMEOUT
            ),
        )


def _ssl_mode(options: Mapping[str, str]) -> str:
    """``disable``, ``prefer`` or ``require``, from ``ssl`` (or ``sslmode``); a certificate option implies require."""
    if "ssl" in options and "sslmode" in options:
        raise ConfigError("mysql URL options ssl and sslmode say the same thing: give only one", field="sslmode")
    name = "sslmode" if "sslmode" in options else "ssl"
    certificates = any(options.get(option) for option in ("ssl_ca", "ssl_cert"))
    if name not in options:
        return "require" if certificates else "disable"
    text = options[name]
    mode = SSL_MODES.get(text.strip().lower())
    if mode is None:
        raise ConfigError(
            f"mysql URL option {name}={text!r} must be required (TLS or no connection), prefer (TLS when the "
            "server offers it) or false (no TLS)",
            field=name,
        )
    if mode == "disable" and certificates:
        raise ConfigError(f"mysql URL option {name}={text!r} turns TLS off, but ssl_ca/ssl_cert are given", field=name)
    return mode


def _ssl_context(options: Mapping[str, str], mode: str) -> ssl.SSLContext | None:
    if mode == "disable":
        return None
    # Opportunistic TLS (prefer) cannot insist on a certificate it may never see: it only encrypts,
    # as MySQL's PREFERRED and libpq's prefer do, unless a CA is named to verify against.
    verify = mode == "require" or bool(options.get("ssl_ca"))
    verify = verify and _flag("ssl_verify", options.get("ssl_verify", "true"))
    try:
        context = ssl.create_default_context(cafile=options.get("ssl_ca") or None)
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if options.get("ssl_cert"):
            context.load_cert_chain(options["ssl_cert"], options.get("ssl_key") or None)
    except OSError as exc:
        raise ConfigError(f"mysql URL ssl options: cannot read a certificate file: {exc}", field="ssl") from None
    return context
