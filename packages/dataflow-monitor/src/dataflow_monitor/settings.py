"""What a monitor watches for: thresholds and switches, from keywords over the environment over defaults.

Every setting ``x`` reads ``DATAFLOW_MONITOR_X`` from the environment when the
``DataFlow`` instance is created; ``db.monitor.configure(x=...)`` changes it
later for that instance only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from dataflow.errors import ConfigError
from dataflow.schema import suggest


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ConfigError(f"monitor setting {attribute.name} must not be negative, got {value!r}", field=attribute.name)


def _thresholds(value: Mapping[str, float] | None) -> Mapping[str, float]:
    thresholds = dict(value or {})
    for model, seconds in thresholds.items():
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise ConfigError(f"slow query threshold of {model!r} must be seconds >= 0, got {seconds!r}", model=model)
    return thresholds


@attrs.frozen
class MonitorSettings:
    """The settings of one instance's monitor."""

    slow_query_seconds: float = attrs.field(default=1.0, converter=float, validator=_non_negative)
    """Statements taking at least this long are logged as slow."""
    slow_query_seconds_by_model: Mapping[str, float] = attrs.field(factory=dict, converter=_thresholds)
    """Per-model thresholds that override ``slow_query_seconds``: ``{"Order": 0.2}``."""
    explain: bool = False
    """Capture the plan of each slow statement, on a separate connection."""
    explain_timeout: float = attrs.field(default=5.0, converter=float, validator=_non_negative)
    """Seconds an EXPLAIN may take, connection included, before it is given up."""
    slow_query_log_size: int = attrs.field(default=100, converter=int, validator=_non_negative)
    """Slow statements kept in memory for snapshots."""
    lock_wait_seconds: float = attrs.field(default=1.0, converter=float, validator=_non_negative)
    """A lock wait at least this long is reported by the lock watcher."""
    lock_poll_seconds: float = attrs.field(default=0.25, converter=float, validator=_non_negative)
    """How often the lock watcher looks at the server's lock tables."""
    lost_update_window: float = attrs.field(default=5.0, converter=float, validator=_non_negative)
    """Seconds within which another run's write between a read and a write of the same row is reported."""
    prepared_transaction_age: float = attrs.field(default=300.0, converter=float, validator=_non_negative)
    """Prepared (two-phase) transactions older than this make a health check degraded."""
    health_timeout: float = attrs.field(default=5.0, converter=float, validator=_non_negative)
    """Seconds a health check may take per database before it reports it down."""
    tracing: bool = True
    """Emit OpenTelemetry spans when ``opentelemetry-api`` is importable and a tracer provider is set."""
    tracer_provider: Any = attrs.field(default=None, eq=False, repr=False)
    """A tracer provider to use instead of the global one (tests, applications with several)."""


SETTINGS = tuple(a.name for a in attrs.fields(MonitorSettings))
_FROM_ENVIRONMENT = tuple(name for name in SETTINGS if name not in ("slow_query_seconds_by_model", "tracer_provider"))
_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _from_text(name: str, text: str) -> Any:
    if attrs.fields_dict(MonitorSettings)[name].type in ("bool", bool):
        value = _BOOLEANS.get(text.strip().lower())
        if value is None:
            raise ConfigError(f"DATAFLOW_MONITOR_{name.upper()} must be a boolean, got {text!r}", field=name)
        return value
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"DATAFLOW_MONITOR_{name.upper()} must be a number, got {text!r}", field=name) from None


def load_settings(environ: Mapping[str, str] | None = None) -> MonitorSettings:
    """Settings from ``DATAFLOW_MONITOR_*`` variables over the defaults.

    A malformed variable is a ``ConfigError`` naming it (every malformed one,
    if there are several); none is ever dropped or replaced by its default.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[ConfigError] = []
    for name in _FROM_ENVIRONMENT:
        text = environ.get(f"DATAFLOW_MONITOR_{name.upper()}")
        if text is None:
            continue
        try:
            values[name] = _from_text(name, text)
            # Checked one by one, so that the error names the variable that holds the value.
            MonitorSettings(**{name: values[name]})
        except ConfigError as exc:
            problems.append(exc)
        except (TypeError, ValueError) as exc:
            problems.append(ConfigError(f"DATAFLOW_MONITOR_{name.upper()}={text!r}: {exc}", field=name))
    if problems:
        raise ConfigError(
            "; ".join(_variable_message(problem) for problem in problems)
            + "; fix or unset the variable (see docs/monitoring.md, Settings)",
            field=problems[0].field,
        )
    return MonitorSettings(**values)


def _variable_message(problem: ConfigError) -> str:
    """The message, naming the environment variable rather than the setting."""
    variable = f"DATAFLOW_MONITOR_{(problem.field or '').upper()}"
    return problem.message if variable in problem.message else f"{variable}: {problem.message}"


def changed(settings: MonitorSettings, changes: Mapping[str, Any]) -> MonitorSettings:
    """``settings`` with ``changes`` applied; an unknown name is an error naming the nearest one."""
    for name in changes:
        if name not in SETTINGS:
            raise ConfigError(
                f"unknown monitor setting {name!r}{suggest(name, SETTINGS)}; settings: {', '.join(SETTINGS)}",
                field=name,
            )
    return attrs.evolve(settings, **changes)
