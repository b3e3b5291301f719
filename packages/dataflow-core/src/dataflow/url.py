"""Database URLs in SQLAlchemy's conventions, with the password kept out of sight.

``sqlite:///app.db`` is relative to the working directory, ``sqlite:////var/app.db``
absolute, ``sqlite:///:memory:`` in memory; server URLs are
``scheme[+driver]://user:password@host:port/database?option=value``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlsplit

import attrs

from .errors import ConfigError


@attrs.frozen
class DatabaseURL:
    """A parsed database URL. ``str()`` and ``repr()`` never show the password."""

    scheme: str
    driver: str | None = None
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        if "://" not in url:
            raise ConfigError(
                f"database URL {mask_password(url)!r} has no scheme; expected e.g. "
                "'sqlite:///app.db' or 'postgresql://user@host/db'"
            )
        head, rest = url.split("://", 1)
        scheme, _, driver = head.partition("+")
        if not scheme.replace("_", "").isalnum():
            raise ConfigError(f"database URL scheme {scheme!r} is not valid")
        if scheme.lower() == "sqlite":
            return cls._parse_sqlite(scheme.lower(), driver or None, rest)
        parts = urlsplit(f"//{rest}")
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"database URL {mask_password(url)!r} has an invalid port") from exc
        database = unquote(parts.path.lstrip("/")) or None
        return cls(
            scheme=scheme.lower(),
            driver=driver or None,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            host=parts.hostname,
            port=port,
            database=database,
            query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
        )

    @classmethod
    def _parse_sqlite(cls, scheme: str, driver: str | None, rest: str) -> DatabaseURL:
        # "sqlite:///app.db" leaves "/app.db": one slash separates the empty host.
        path, _, query = rest.partition("?")
        if path.startswith("/"):
            path = path[1:]
        return cls(
            scheme=scheme,
            driver=driver,
            database=unquote(path) or None,
            query=tuple(parse_qsl(query, keep_blank_values=True)),
        )

    @property
    def options(self) -> dict[str, str]:
        """The query string as a dict (last value wins)."""
        return dict(self.query)

    def render(self, *, hide_password: bool = True) -> str:
        """The URL as text; the password is ``***`` unless asked for."""
        head = self.scheme + (f"+{self.driver}" if self.driver else "")
        if self.scheme == "sqlite":
            text = f"{head}:///{self.database or ''}"
        else:
            auth = ""
            if self.username is not None:
                auth = quote(self.username, safe="")
                if self.password is not None:
                    auth += ":" + ("***" if hide_password else quote(self.password, safe=""))
                auth += "@"
            host = self.host or ""
            if host and ":" in host:
                host = f"[{host}]"
            port = f":{self.port}" if self.port is not None else ""
            text = f"{head}://{auth}{host}{port}/{quote(self.database or '', safe='')}"
        if self.query:
            text += "?" + "&".join(f"{k}={v}" for k, v in self.query)
        return text

    def __str__(self) -> str:
        return self.render()


def mask_password(url: str) -> str:
    """Hide the password of a URL that may not even parse, for error messages."""
    if "://" not in url:
        return url
    head, rest = url.split("://", 1)
    netloc, sep, tail = rest.partition("/")
    if "@" in netloc:
        auth, _, host = netloc.rpartition("@")
        if ":" in auth:
            auth = auth.split(":", 1)[0] + ":***"
        netloc = f"{auth}@{host}"
    return f"{head}://{netloc}{sep}{tail}"
