"""``db.extensions``: the one typed place where plugins keep their per-instance objects."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Extensions:
    """Per-instance objects of plugins, one per class, and the shortcuts they offer on ``DataFlow``.

    A plugin adds its object once (``db.extensions.add(Tenancy(db, ...))``) and
    reads it back by class (``db.extensions.get(Tenancy)``), which keeps the
    object's type; its own ``X.of(db)`` accessor is the usual way to do that.
    Shortcuts (``db.tenant(...)``, ``db.health``) are names a plugin offers on
    the instance for users who already call them; typed code uses ``X.of(db)``.
    """

    def __init__(self, owner: str, reserved: Callable[[], Iterable[str]]) -> None:
        self._owner = owner
        self._reserved = reserved
        self._objects: dict[type, object] = {}
        self._shortcuts: dict[str, object] = {}

    def __repr__(self) -> str:
        return f"<Extensions of {self._owner}: {', '.join(cls.__qualname__ for cls in self._objects) or 'none'}>"

    def add(self, extension: T) -> T:
        """Keep ``extension`` under its class; a second object of the same class is refused."""
        cls = type(extension)
        if cls in self._objects:
            raise ConfigError(
                f"{self._owner} already has a {cls.__qualname__} extension; add one object per class "
                "(read the existing one with db.extensions.get)"
            )
        self._objects[cls] = extension
        return extension

    def get(self, cls: type[T]) -> T | None:
        """The object kept under ``cls``, or ``None``."""
        found = self._objects.get(cls)
        return found if isinstance(found, cls) else None

    def require(self, cls: type[T], hint: str) -> T:
        """The object kept under ``cls``; ``ConfigError`` ending with ``hint`` (what to install or enable)."""
        found = self.get(cls)
        if found is None:
            raise ConfigError(f"{self._owner} has no {cls.__qualname__}: {hint}")
        return found

    def __contains__(self, cls: object) -> bool:
        return cls in self._objects

    def __iter__(self) -> Iterator[object]:
        return iter(list(self._objects.values()))

    def shortcut(self, name: str, value: object) -> None:
        """Offer ``value`` as ``db.<name>``; a name ``DataFlow`` or another plugin already uses is refused."""
        if name.startswith("_") or name in set(self._reserved()):
            raise ConfigError(f"a plugin cannot add the shortcut db.{name}: DataFlow has its own {name!r}")
        if name in self._shortcuts:
            raise ConfigError(f"two plugins offer the shortcut db.{name} on {self._owner}; disable one of them")
        self._shortcuts[name] = value

    def shortcut_value(self, name: str) -> Any:
        """The value offered as ``db.<name>``; ``AttributeError`` when no plugin offers it."""
        try:
            return self._shortcuts[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def shortcuts(self) -> tuple[str, ...]:
        return tuple(self._shortcuts)
