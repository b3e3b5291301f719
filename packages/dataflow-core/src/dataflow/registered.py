"""What the loaded plugins register that ``DataFlow`` looks up: dialects by URL scheme, and model options."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ConfigError
from .plugins import plugin_host
from .schema import MODEL_OPTIONS

if TYPE_CHECKING:
    from .dialect import Dialect

KNOWN_DIALECT_PACKAGES = {
    "sqlite": "dataflow-sqlite",
    "postgresql": "dataflow-postgres",
    "postgres": "dataflow-postgres",
    "mysql": "dataflow-mysql",
    "mariadb": "dataflow-mysql",
}
"""Packages that provide the dialects users ask for most; only used to say what to install."""


def registered_dialects() -> dict[str, type[Dialect]]:
    """URL scheme to dialect class, from every loaded plugin."""

    def build(classes: list[type[Dialect]]) -> dict[str, type[Dialect]]:
        return {scheme: cls for cls in classes for scheme in cls.schemes}

    return plugin_host().cached("dataflow_register_dialects", build)


def registered_model_options() -> dict[str, str]:
    """Every ``__dataflow__`` option a model may name: the core's, then those plugins declare."""
    host = plugin_host()

    def build(declared: list[tuple[str, tuple[str, str]]]) -> dict[str, str]:
        options = dict(MODEL_OPTIONS)
        for plugin, (name, description) in declared:
            if name in options:
                host.report(plugin, "dataflow_register_model_options", ConfigError(f"option {name!r} already exists"))
                continue
            options[name] = description
        return options

    return host.cached_by_plugin("dataflow_register_model_options", build)
