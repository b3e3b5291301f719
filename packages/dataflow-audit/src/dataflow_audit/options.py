"""The ``__dataflow__`` options this package reads, and their checks (made when a model is defined)."""

from __future__ import annotations

from dataflow.errors import ConfigError
from dataflow.fields import FieldKind
from dataflow.schema import ModelSchema, suggest

AUDIT = "audit"
SUBJECT = "subject"
RETENTION = "retention"
OPTIONS = {
    AUDIT: "dataflow-audit: record every write of the model (True, or a list of the fields to record)",
    SUBJECT: "dataflow-audit: the model's records are data subjects, identified by this field (e.g. 'id')",
    RETENTION: "dataflow-audit: {'field': a datetime field, 'days': n, 'action': 'delete' or 'anonymize'}",
}


def audited_fields(schema: ModelSchema) -> tuple[str, ...] | None:
    """The fields recorded for ``schema``, or None when the model is not audited."""
    option = schema.options.get(AUDIT)
    if option is None or option is False:
        return None
    if option is True:
        return tuple(f.name for f in schema.fields if f.name != schema.primary_key)
    return tuple(option)


def personal_fields(schema: ModelSchema) -> tuple[str, ...]:
    """The audited fields declared ``Personal()``: sealed in the trail."""
    return tuple(name for name in audited_fields(schema) or () if schema.by_name[name].personal)


def check_options(schema: ModelSchema) -> ModelSchema:
    """A schema extension that changes nothing: it refuses a malformed option before the model exists."""
    subject = schema.options.get(SUBJECT)
    if subject is not None and (not isinstance(subject, str) or subject not in schema.by_name):
        raise ConfigError(
            f"{schema.name}: __dataflow__['subject'] must name the field that identifies a subject, got {subject!r}"
            f"{suggest(str(subject), schema.by_name)}",
            model=schema.name,
            field=SUBJECT,
        )
    check_retention(schema)
    check_personal(schema)
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


def subject_of(schema: ModelSchema, subjects: dict[str, str], key: object, image: dict[str, object]) -> str:
    """The data subject a row is about: ``Customer:7`` for a subject model's row, or for a row whose foreign key
    names one; the row itself otherwise. ``subjects`` maps each subject model to its identifying field."""
    field = subjects.get(schema.name)
    if field is not None:
        return f"{schema.name}:{image.get(field)}"
    for candidate in schema.fields:
        if candidate.references in subjects and image.get(candidate.name) is not None:
            return f"{candidate.references}:{image[candidate.name]}"
    return f"{schema.name}:{key}"


def check_retention(schema: ModelSchema) -> None:
    rule = schema.options.get(RETENTION)
    if rule is None:
        return

    def refuse(problem: str) -> ConfigError:
        return ConfigError(f"{schema.name}: __dataflow__['retention'] {problem}", model=schema.name, field=RETENTION)

    if not isinstance(rule, dict) or set(rule) - {"field", "days", "action"} or "field" not in rule:
        raise refuse(f"must be {{'field': ..., 'days': n, 'action': 'delete' | 'anonymize'}}, got {rule!r}")
    field = schema.by_name.get(rule["field"]) if isinstance(rule["field"], str) else None
    if field is None:
        raise refuse(f"names {rule['field']!r}, which is not a field{suggest(str(rule['field']), schema.by_name)}")
    if field.kind not in (FieldKind.DATETIME, FieldKind.DATE):
        raise refuse(f"field {field.name!r} is {field.type_name}, not a datetime: retention counts days from it")
    days = rule.get("days")
    if type(days) is not int or days < 1:
        raise refuse(f"'days' must be a positive whole number, got {days!r}")
    if rule.get("action", "delete") not in ("delete", "anonymize"):
        raise refuse(f"'action' must be 'delete' or 'anonymize', got {rule.get('action')!r}")


def check_personal(schema: ModelSchema) -> None:
    """``Personal()`` where erasure can overwrite the value and nothing keeps it elsewhere; else ``ConfigError``."""
    subject = schema.options.get(SUBJECT)
    for field in schema.fields:
        if not field.personal:
            continue
        problem = None
        if field.primary_key:
            problem = "the primary key names the record in the audit trail and in other tables' foreign keys"
        elif field.name == subject:
            problem = "the field that identifies a data subject names its key and its erasure record"
        elif field.references is not None and not field.nullable:
            problem = "erasure cannot overwrite a required foreign key (make it nullable: it is then set to null)"
        if problem is not None:
            raise ConfigError(
                f"{schema.name}.{field.name} cannot be Personal(): {problem}; mark the fields that hold the "
                "personal values instead",
                model=schema.name,
                field=field.name,
            )
