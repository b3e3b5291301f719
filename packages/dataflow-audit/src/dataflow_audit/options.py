"""The ``__dataflow__`` options this package reads, and their checks (made when a model is defined)."""

from __future__ import annotations

from dataflow.errors import ConfigError
from dataflow.schema import ModelSchema, suggest

AUDIT = "audit"
OPTIONS = {
    AUDIT: "dataflow-audit: record every write of the model (True, or a list of the fields to record)",
}


def audited_fields(schema: ModelSchema) -> tuple[str, ...] | None:
    """The fields recorded for ``schema``, or None when the model is not audited."""
    option = schema.options.get(AUDIT)
    if option is None or option is False:
        return None
    if option is True:
        return tuple(f.name for f in schema.fields if f.name != schema.primary_key)
    return tuple(option)


def check_options(schema: ModelSchema) -> ModelSchema:
    """A schema extension that changes nothing: it refuses a malformed ``audit`` option before the model exists."""
    option = schema.options.get(AUDIT)
    if option is None or isinstance(option, bool):
        return schema
    if isinstance(option, str) or not isinstance(option, (list, tuple)) or not option:
        raise ConfigError(
            f"{schema.name}: __dataflow__['audit'] must be True or a non-empty list of field names, got {option!r}",
            model=schema.name,
            field=AUDIT,
        )
    for name in option:
        if not isinstance(name, str) or name not in schema.by_name:
            raise ConfigError(
                f"{schema.name}: __dataflow__['audit'] names {name!r}, which is not a field"
                f"{suggest(str(name), schema.by_name)}",
                model=schema.name,
                field=AUDIT,
            )
    return schema
