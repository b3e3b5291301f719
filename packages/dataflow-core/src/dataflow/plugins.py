"""Finding and loading plugins: lazily, once, through the ``dataflow`` entry-point group.

``DATAFLOW_PLUGINS`` (comma-separated entry-point names) is an allow-list;
``DATAFLOW_DISABLE_PLUGINS`` a block-list. Nothing here imports a driver:
plugin modules import theirs only when a dialect creates a pool.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any, TypeVar

import attrs
import pluggy

from . import hookspecs
from .errors import ConfigError

GROUP = "dataflow"
log = logging.getLogger("dataflow.plugins")
hookimpl = pluggy.HookimplMarker(GROUP)

T = TypeVar("T")


@attrs.frozen
class PluginInfo:
    """What ``dataflow plugins`` shows for one loaded plugin."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]


@attrs.frozen
class PluginProblem:
    """A plugin that failed to import or to answer a hook, and was skipped."""

    plugin: str
    where: str
    error: str


def _names(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


class PluginHost:
    """The plugin manager and what the plugins registered."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(GROUP)
        self.manager.add_hookspecs(hookspecs)
        self._distributions: dict[str, tuple[str | None, str | None]] = {}
        self._loaded = False
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}
        self.problems: list[PluginProblem] = []

    def load(self) -> None:
        """Import every allowed entry point, once."""
        with self._lock:
            if self._loaded:
                return
            allowed, blocked = _names("DATAFLOW_PLUGINS"), _names("DATAFLOW_DISABLE_PLUGINS") or set()
            for entry in entry_points(group=GROUP):
                if entry.name in blocked or (allowed is not None and entry.name not in allowed):
                    continue
                if self.manager.has_plugin(entry.name):
                    continue
                try:
                    plugin = entry.load()
                except Exception as exc:  # noqa: BLE001 - one broken plugin must not break the others
                    self._problem(entry.name, "import", exc)
                    continue
                self.manager.register(plugin, name=entry.name)
                dist = entry.dist
                self._distributions[entry.name] = (dist.name, dist.version) if dist else (None, None)
            self._loaded = True

    def register(self, plugin: ModuleType | object, name: str) -> None:
        """Register an in-process plugin (tests, applications)."""
        self.load()
        self.manager.register(plugin, name=name)
        self._cache.clear()

    def unregister(self, name: str) -> None:
        self.manager.unregister(name=name)
        self._cache.clear()
        self.problems = [problem for problem in self.problems if problem.plugin != name]

    def collect(self, hook_name: str) -> list[Any]:
        """Everything registered through the register-callback hook ``hook_name``.

        A plugin whose hook raises is logged, listed in :attr:`problems` and
        skipped: one broken plugin does not take the others down. A
        ``ConfigError`` is the user's configuration, not a broken plugin
        (a malformed ``DATAFLOW_MONITOR_*`` variable): it reaches the caller.
        """
        self.load()
        items: list[Any] = []
        for implementation in getattr(self.manager.hook, hook_name).get_hookimpls():
            registered: list[Any] = []

            def register(*args: Any, into: list[Any] = registered) -> None:
                into.append(args[0] if len(args) == 1 else args)

            try:
                implementation.function(register=register)
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001
                self._problem(implementation.plugin_name, hook_name, exc)
                continue
            items.extend(registered)
        return items

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call a notification hook on every plugin; a failing plugin is reported and skipped."""
        self.load()
        for implementation in getattr(self.manager.hook, hook_name).get_hookimpls():
            try:
                implementation.function(**kwargs)
            except Exception as exc:  # noqa: BLE001
                self._problem(implementation.plugin_name, hook_name, exc)

    def _problem(self, plugin: str, where: str, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}"
        log.error("DataFlow plugin %r failed in %s and is skipped: %s", plugin, where, message)
        self.problems.append(PluginProblem(plugin=plugin, where=where, error=message))

    def cached(self, hook_name: str, build: Callable[[list[Any]], T]) -> T:
        """``build(collect(hook_name))``, computed once until plugins change."""
        if hook_name not in self._cache:
            self._cache[hook_name] = build(self.collect(hook_name))
        result: T = self._cache[hook_name]
        return result

    def info(self) -> list[PluginInfo]:
        self.load()
        result = []
        for name, plugin in self.manager.list_name_plugin():
            hooks = tuple(sorted(caller.name for caller in self.manager.get_hookcallers(plugin) or ()))
            dist, version = self._distributions.get(name, (None, None))
            result.append(PluginInfo(name=name, distribution=dist, version=version, hooks=hooks))
        return sorted(result, key=lambda info: info.name)


_host: PluginHost | None = None
_host_lock = threading.Lock()


def plugin_host() -> PluginHost:
    """The process's plugin host, created on first use."""
    global _host
    if _host is None:
        with _host_lock:
            if _host is None:
                _host = PluginHost()
    return _host


@contextmanager
def plugin_registered(plugin: ModuleType | object, name: str) -> Iterator[None]:
    """Register ``plugin`` for the duration of a ``with`` block (tests)."""
    host = plugin_host()
    host.register(plugin, name)
    try:
        yield
    finally:
        host.unregister(name)
