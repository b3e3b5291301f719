"""DataFlow's settings: one attrs class, filled from keywords, then the environment, then defaults.

Every setting ``x`` has the keyword ``DataFlow(x=...)`` and the environment
variable ``DATAFLOW_X``; the URL also reads ``DATABASE_URL``, the replicas
``DATAFLOW_REPLICA_URLS``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .errors import ConfigError
from .schema import suggest
from .url import mask_password

if TYPE_CHECKING:
    import cattrs

ENVIRONMENTS = ("development", "test", "production")
REPLICA_ROUTINGS = ("round_robin", "least_busy")


def _not_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ConfigError(f"{attribute.name} must not be negative, got {value!r}", field=attribute.name)


def _routing(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in REPLICA_ROUTINGS:
        raise ConfigError(
            f"replica_routing must be one of {', '.join(REPLICA_ROUTINGS)}, got {value!r}", field="replica_routing"
        )


def _urls(value: Any) -> tuple[str, ...]:
    """A comma-separated string (an environment variable) or a list of URLs, as a tuple."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if not isinstance(value, (list, tuple)) or not all(isinstance(url, str) for url in value):
        raise ConfigError(f"replicas must be a list of database URLs, got {type(value).__name__}", field="replicas")
    return tuple(value)


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{attribute.name} must be positive, got {value!r}", field=attribute.name)


def _environment(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in ENVIRONMENTS:
        raise ConfigError(f"env must be one of {', '.join(ENVIRONMENTS)}, got {value!r}", field="env")


@attrs.frozen
class Config:
    """All settings of one ``DataFlow`` instance."""

    database_url: str | None = attrs.field(default=None, repr=lambda url: repr(url and mask_password(url)))
    """Where the database is; with none, a dialect offers a development default."""
    env: str = attrs.field(default="development", validator=_environment)
    """``development``, ``test`` or ``production``; production never invents a database."""
    pool_size: int = attrs.field(default=10, validator=_positive)
    """Connections per pool (one pool per event loop)."""
    pool_timeout: float = attrs.field(default=30.0, validator=_positive)
    """Seconds to wait for a free connection before ``PoolTimeoutError``."""
    connect_timeout: float = attrs.field(default=10.0, validator=_positive)
    """Seconds to wait for the server when opening a connection."""
    auto_migrate: bool | None = None
    """Create missing tables on first use; default: on except in production."""
    echo: bool = False
    """Write every statement (never its parameters) to stderr, through the ``dataflow.sql`` logger at INFO."""
    cursor_secret: str | None = attrs.field(default=None, repr=lambda secret: "None" if secret is None else "'***'")
    """The key that signs List's ``next`` cursors; default: random per instance (set it when several
    processes serve the same pages, e.g. ``dataflow serve --workers 4``)."""
    max_include_depth: int = attrs.field(default=3, validator=_positive)
    """How deep ``include`` may follow relations (``"team.owner.posts"`` is 3)."""
    existing_schema: bool = False
    """The tables exist and are not DataFlow's to change: never create or alter them, in any environment.

    On first use the models are compared with the live tables, and a difference
    is a ``MigrationError`` naming the table and column; ``migrate`` and
    ``create_tables`` refuse to run.
    """

    replicas: tuple[str, ...] = attrs.field(
        default=(), converter=_urls, repr=lambda urls: repr(tuple(mask_password(url) for url in urls))
    )
    """Read replicas of the database (also ``DATAFLOW_REPLICA_URLS``, comma-separated, and ``?replica=``
    in the URL); reads outside transactions go to them (docs/scaling.md)."""
    max_replica_lag: float = attrs.field(default=5.0, validator=_positive)
    """Seconds a replica may be behind its primary and still serve reads."""
    read_your_writes_window: float = attrs.field(default=5.0, validator=_not_negative)
    """Seconds after a write during which the same caller's reads see it (the primary, or a replica
    that replayed past it); 0 limits read-your-writes to the writing run itself."""
    replica_routing: str = attrs.field(default="round_robin", validator=_routing)
    """How a read picks among usable replicas: ``round_robin`` or ``least_busy`` (fewest sessions open)."""

    def __attrs_post_init__(self) -> None:
        if self.existing_schema and self.auto_migrate:
            raise ConfigError(
                "existing_schema=True and auto_migrate=True contradict each other: existing_schema never creates "
                "or alters tables; drop one of them",
                field="existing_schema",
            )

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def creates_tables(self) -> bool:
        if self.existing_schema:
            return False
        return self.auto_migrate if self.auto_migrate is not None else not self.production


SETTINGS = tuple(a.name for a in attrs.fields(Config))


def _structure_bool(value: Any, _type: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected a boolean, got {value!r}")


@functools.cache
def _converter() -> cattrs.Converter:
    # Built on first use: cattrs is the slowest part of ``import dataflow``.
    import cattrs  # noqa: PLC0415 - lazy on purpose, see above

    # Attribute converters first: ``replicas`` takes a comma-separated string as well as a list.
    converter = cattrs.Converter(prefer_attrib_converters=True)
    converter.register_structure_hook(bool, _structure_bool)
    return converter


def load_config(keywords: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """Build a :class:`Config` from keywords over environment variables over defaults."""
    import cattrs  # noqa: PLC0415 - cattrs is slow to import; only a DataFlow() needs it, not ``import dataflow``

    environ = os.environ if environ is None else environ
    for key in keywords:
        if key not in SETTINGS:
            raise ConfigError(
                f"unknown DataFlow option {key!r}{suggest(key, SETTINGS)}; options: {', '.join(SETTINGS)}",
                field=key,
            )
    values: dict[str, Any] = {}
    for name in SETTINGS:
        variable = f"DATAFLOW_{name.upper()}"
        if variable in environ:
            values[name] = environ[variable]
    if "replicas" not in values and environ.get("DATAFLOW_REPLICA_URLS"):
        values["replicas"] = environ["DATAFLOW_REPLICA_URLS"]
    if "database_url" not in values and environ.get("DATABASE_URL"):
        values["database_url"] = environ["DATABASE_URL"]
    values.update(keywords)
    try:
        return _converter().structure(values, Config)
    except ConfigError:
        raise
    except cattrs.BaseValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid DataFlow setting: {exc}") from None


def _describe(exc: cattrs.BaseValidationError) -> str:
    import cattrs  # noqa: PLC0415 - cattrs is slow to import (see _converter)

    for sub in exc.exceptions:
        if isinstance(sub, ConfigError):
            return sub.message
    notes = list(cattrs.transform_error(exc))
    return "invalid DataFlow setting: " + "; ".join(notes)


def read_env_file(path: str = ".env") -> None:
    """Put the ``KEY=value`` lines of ``path`` into the environment; variables already set win."""
    # os.path, not pathlib: pathlib (and fnmatch) would load with ``import dataflow`` for this one call.
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as file:
        text = file.read()
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            os.environ.setdefault(key.strip(), value.strip().strip("'\""))
