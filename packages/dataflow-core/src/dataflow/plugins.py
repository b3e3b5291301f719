"""Finding and loading plugins: lazily, once, through the ``dataflow`` entry-point group.

``DATAFLOW_PLUGINS`` (comma-separated entry-point names) is an allow-list;
``DATAFLOW_DISABLE_PLUGINS`` a block-list; neither can leave out the core's
own plugins. Hooks run in pluggy's order, each plugin's call on its own so
that a failing plugin is reported and skipped. Nothing here imports a driver:
plugin modules import theirs only when a dialect creates a pool.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import pluggy

from . import hookspecs
from .errors import ConfigError
from .schema import suggest

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

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


BUILTIN = {"core": "dataflow.builtin"}
"""Plugins of dataflow-core itself, registered in code (as tox and llm do): always loaded, never filtered."""


def _names(variable: str) -> dict[str, None] | None:
    """The names a variable lists, in its order (a dict used as an ordered set), or None when it is unset."""
    value = os.environ.get(variable)
    if value is None:
        return None
    return dict.fromkeys(part.strip() for part in value.split(",") if part.strip())


def _check_names(variable: str, names: dict[str, None], installed: set[str]) -> None:
    """A name that matches no installed plugin is a typo or a missing package: say which, before anything loads."""
    unknown = [name for name in names if name not in installed]
    if not unknown:
        return
    first, others = unknown[0], unknown[1:]
    also = f"; not installed either: {', '.join(map(repr, others))}" if others else ""
    raise ConfigError(
        f"{variable} names plugin {first!r}, which is not installed{suggest(first, installed)}{also}; "
        f"installed plugins: {', '.join(sorted(installed))}"
    )


def _call_order(caller: Any) -> list[Any]:
    """The implementations of one hook in the order pluggy calls them.

    pluggy keeps them sorted trylast, plain, tryfirst (each group in
    registration order) and calls the list from its end, so ``tryfirst`` runs
    first and, among equals, the plugin registered last runs first.
    """
    return list(reversed(caller.get_hookimpls()))


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
        """Register the built-in plugins and import every allowed entry point, once.

        ``ConfigError`` when ``DATAFLOW_PLUGINS`` or ``DATAFLOW_DISABLE_PLUGINS``
        names a plugin that is not installed, or disables a built-in one.
        """
        with self._lock:
            if self._loaded:
                return
            # Deferred: importlib.metadata (with email, zipfile, csv, ...) is a third of ``import dataflow``'s
            # time, and entry points are read only when the first DataFlow loads its plugins.
            from importlib.metadata import entry_points  # noqa: PLC0415

            entries: dict[str, EntryPoint] = {}
            for entry in entry_points(group=GROUP):
                entries.setdefault(entry.name, entry)  # as before: the first distribution to claim a name wins
            allowed, blocked = _names("DATAFLOW_PLUGINS"), _names("DATAFLOW_DISABLE_PLUGINS") or {}
            installed = set(entries) | set(BUILTIN)
            _check_names("DATAFLOW_PLUGINS", allowed or {}, installed)
            _check_names("DATAFLOW_DISABLE_PLUGINS", blocked, installed)
            built_in = [name for name in blocked if name in BUILTIN]
            if built_in:
                raise ConfigError(
                    f"DATAFLOW_DISABLE_PLUGINS names {built_in[0]!r}, which is part of dataflow-core and cannot be "
                    "disabled; remove it from the list"
                )
            for name, module in BUILTIN.items():
                if not self.manager.has_plugin(name):
                    self.manager.register(importlib.import_module(module), name=name)
                    self._distributions[name] = ("dataflow-core", _version("dataflow-core"))
            for entry in entries.values():
                if entry.name in blocked or (allowed is not None and entry.name not in allowed):
                    continue
                if self.manager.has_plugin(entry.name):
                    continue
                try:
                    plugin = entry.load()
                    self.manager.register(plugin, name=entry.name)
                except Exception as exc:  # noqa: BLE001 - one broken plugin must not break the others
                    self._problem(entry.name, "import", exc)
                    continue
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

    def collect(self, hook_name: str, **arguments: Any) -> list[Any]:
        """Everything registered through the register-callback hook ``hook_name``, in pluggy's call order.

        ``arguments`` are the hook's arguments besides ``register`` (``db``).
        A plugin whose hook raises is logged, listed in :attr:`problems` and
        skipped: one broken plugin does not take the others down. A
        ``ConfigError`` is the user's configuration, not a broken plugin
        (a malformed ``DATAFLOW_MONITOR_*`` variable): it reaches the caller.
        """
        return [item for _, item in self.collect_by_plugin(hook_name, **arguments)]

    def collect_by_plugin(self, hook_name: str, **arguments: Any) -> list[tuple[str, Any]]:
        """:meth:`collect`, each item paired with the name of the plugin that registered it."""
        items: list[tuple[str, Any]] = []
        for implementation in self._implementations(hook_name):
            registered: list[Any] = []

            def register(*args: Any, into: list[Any] = registered) -> None:
                into.append(args[0] if len(args) == 1 else args)

            if self._call(implementation, hook_name, {**arguments, "register": register}, user_errors=True):
                items.extend((implementation.plugin_name, item) for item in registered)
        return items

    def notify(self, hook_name: str, **arguments: Any) -> None:
        """Call a notification hook on every plugin in pluggy's order; a failing plugin is reported and skipped."""
        for implementation in self._implementations(hook_name):
            self._call(implementation, hook_name, arguments)

    def _implementations(self, hook_name: str) -> list[Any]:
        self.load()
        implementations = []
        for implementation in _call_order(getattr(self.manager.hook, hook_name)):
            if implementation.hookwrapper or implementation.wrapper:
                # A wrapper would see one plugin's call at a time here, not the whole hook call it expects.
                error = TypeError("hook wrappers are not supported by DataFlow's hooks")
                self._problem(implementation.plugin_name, hook_name, error)
                continue
            implementations.append(implementation)
        return implementations

    def _call(
        self, implementation: Any, hook_name: str, arguments: dict[str, Any], *, user_errors: bool = False
    ) -> bool:
        """Call one implementation; report and skip it if it raises.

        ``user_errors``: a ``ConfigError`` is the user's configuration that a
        registering plugin read (a malformed setting), not a broken plugin,
        and reaches the caller.
        """
        # As pluggy does: an implementation receives only the arguments it names.
        try:
            implementation.function(*(arguments[name] for name in implementation.argnames))
        except ConfigError as exc:
            if user_errors:
                raise
            self._problem(implementation.plugin_name, hook_name, exc)
            return False
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not break the others
            self._problem(implementation.plugin_name, hook_name, exc)
            return False
        return True

    def _problem(self, plugin: str, where: str, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}"
        problem = PluginProblem(plugin=plugin, where=where, error=message)
        if problem in self.problems:
            return
        log.error("DataFlow plugin %r failed in %s and is skipped: %s", plugin, where, message)
        self.problems.append(problem)

    def report(self, plugin: str, where: str, error: Exception) -> None:
        """Record a problem the core found in what ``plugin`` registered (a clash, a bad object)."""
        self._problem(plugin, where, error)

    def cached(self, hook_name: str, build: Callable[[list[Any]], T]) -> T:
        """``build(collect(hook_name))``, computed once until plugins change (process-wide hooks only)."""
        if hook_name not in self._cache:
            self._cache[hook_name] = build(self.collect(hook_name))
        result: T = self._cache[hook_name]
        return result

    def cached_by_plugin(self, hook_name: str, build: Callable[[list[tuple[str, Any]]], T]) -> T:
        """:meth:`cached` over :meth:`collect_by_plugin`."""
        key = f"{hook_name} by plugin"
        if key not in self._cache:
            self._cache[key] = build(self.collect_by_plugin(hook_name))
        result: T = self._cache[key]
        return result

    def info(self) -> list[PluginInfo]:
        self.load()
        result = []
        for name, plugin in self.manager.list_name_plugin():
            hooks = tuple(sorted(caller.name for caller in self.manager.get_hookcallers(plugin) or ()))
            dist, version = self._distributions.get(name, (None, None))
            result.append(PluginInfo(name=name, distribution=dist, version=version, hooks=hooks))
        return sorted(result, key=lambda info: info.name)


def _version(distribution: str) -> str | None:
    from importlib import metadata  # noqa: PLC0415  # deferred with entry_points (see PluginHost.load)

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


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
