"""Model schemas: read a type-hinted class once into a frozen description.

Everything downstream (SQL, nodes, tenancy, migrations) reads the
:class:`ModelSchema`, never the class again.
"""

from __future__ import annotations

import copy
import enum
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .errors import ConfigError, ValidationError
from .fields import (
    ELEMENT_KINDS,
    MISSING,
    PYTHON_KINDS,
    Array,
    ColumnType,
    FieldKind,
    FieldSchema,
    MaxLength,
    Personal,
)

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

MODEL_OPTIONS = {
    "table": "the table's name (default: the class name in snake_case)",
    "primary_key": "the key field's name (default: an auto-increment 'id')",
    "indexes": "a list of field tuples to index",
    "unique": "a list of field tuples that must be unique together",
    "timestamps": "keep created_at/updated_at (default False)",
    "soft_delete": "Delete sets deleted_at instead of removing the row (default False)",
    "multi_tenant": "scope every statement to the tenant in context (needs dataflow-tenancy)",
    "versioned": "optimistic locking: a version column that every update checks and increments",
    "relations": "names of foreign-key relations: {'team_id': 'squad'} or {'team_id': {'name': ..., 'reverse': ...}}",
}


@attrs.frozen
class ModelSchema:
    """A model: its table, fields, key and constraints."""

    name: str
    table: str
    fields: tuple[FieldSchema, ...]
    primary_key: str
    indexes: tuple[tuple[str, ...], ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    timestamps: bool = False
    soft_delete: bool = False
    options: Mapping[str, Any] = attrs.field(factory=dict, eq=False)
    version_field: str | None = None
    """An int column that Update, Upsert and BulkUpdate check and increment (optimistic locking).

    Set by the core for ``versioned`` models (see :mod:`dataflow.versioning`).
    An update whose ``fields`` name it runs ``WHERE version = <given>`` and
    raises ``ConcurrentUpdateError`` when the record has another version;
    every update sets ``version = version + 1``.
    """
    by_name: Mapping[str, FieldSchema] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    @property
    def pk(self) -> FieldSchema:
        return self.by_name[self.primary_key]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def writable_fields(self) -> tuple[FieldSchema, ...]:
        """Fields a caller may set on Create (auto keys and managed columns excluded)."""
        return tuple(f for f in self.fields if not f.auto_increment and not f.managed)

    def field(self, name: str, *, what: str = "field") -> FieldSchema:
        """The field called ``name``, or a ``ValidationError`` naming the nearest one."""
        found = self.by_name.get(name) if isinstance(name, str) else None
        if found is None:
            raise ValidationError(
                f"{self.name} has no {what} {name!r}{suggest(name, self.by_name)}", model=self.name, field=str(name)
            )
        return found


def suggest(name: object, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the nearest choice, or ``""``."""
    import difflib  # noqa: PLC0415  # only an error message needs it: not worth importing with dataflow

    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z][a-z])", r"_\1\2", name).lower()


def check_identifier(name: str, what: str, *, model: str | None = None) -> str:
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise ConfigError(
            f"{what} {name!r} is not a valid identifier (letters, digits and '_', not starting with a digit)",
            model=model,
        )
    return name


def schema_from_class(
    cls: type, models: Mapping[type, ModelSchema], valid_options: Mapping[str, str] = MODEL_OPTIONS
) -> ModelSchema:
    """Read ``cls`` into a :class:`ModelSchema`.

    ``models`` maps classes already registered on the same DataFlow instance to
    their schemas, so that a field typed as another model becomes a foreign key.
    ``valid_options`` are the ``__dataflow__`` keys allowed: the core's and
    those that plugins declare.
    """
    name = cls.__name__
    options = dict(getattr(cls, "__dataflow__", {}) or {})
    for key in options:
        if key not in valid_options:
            raise ConfigError(
                f"{name}.__dataflow__ has no option {key!r}{suggest(key, valid_options)}; "
                f"valid options: {', '.join(valid_options)}",
                model=name,
            )
    localns = {schema_cls.__name__: schema_cls for schema_cls in models}
    # The class itself, so that a field typed as its own model (Employee.reports_to: Employee) resolves.
    localns[name] = cls
    try:
        hints = typing.get_type_hints(cls, localns=localns, include_extras=True)
    except Exception as exc:
        raise ConfigError(f"cannot read the type hints of model {name}: {exc}", model=name) from exc

    fields: list[FieldSchema] = []
    for field_name, hint in hints.items():
        if field_name.startswith("_") or typing.get_origin(hint) is typing.ClassVar:
            continue
        check_identifier(field_name, f"{name} field", model=name)
        fields.append(_field_from_hint(name, field_name, hint, getattr(cls, field_name, MISSING), models, cls))

    primary_key = options.get("primary_key", "id")
    if not any(f.name == primary_key for f in fields):
        # Naming the default key "id" states the default; any other name must be a declared field.
        if primary_key != "id":
            raise ConfigError(f"{name}: primary_key {primary_key!r} is not a field", model=name, field=primary_key)
        fields.insert(0, FieldSchema(name="id", kind=FieldKind.INT, primary_key=True, auto_increment=True))
    else:
        fields = [_as_primary_key(f) if f.name == primary_key else f for f in fields]
    # A self-reference takes the kind of this model's own key, known only now.
    key_kind = next(f.kind for f in fields if f.name == primary_key)
    fields = [attrs.evolve(f, kind=key_kind) if f.references == name and not f.primary_key else f for f in fields]

    timestamps = bool(options.get("timestamps", False))
    soft_delete = bool(options.get("soft_delete", False))
    managed = []
    if timestamps:
        managed += ["created_at", "updated_at"]
    if soft_delete:
        managed.append("deleted_at")
    for managed_name in managed:
        if any(f.name == managed_name for f in fields):
            raise ConfigError(f"{name}.{managed_name} is kept by DataFlow; remove the field", model=name)
        fields.append(
            FieldSchema(name=managed_name, kind=FieldKind.DATETIME, nullable=managed_name == "deleted_at", managed=True)
        )

    table = check_identifier(options.get("table", snake_case(name)), f"{name} table name", model=name)
    by_name = {f.name for f in fields}
    indexes = _field_groups(name, "indexes", options.get("indexes", ()), by_name)
    unique = _field_groups(name, "unique", options.get("unique", ()), by_name)
    return ModelSchema(
        name=name,
        table=table,
        fields=tuple(fields),
        primary_key=primary_key,
        indexes=indexes,
        unique=unique,
        timestamps=timestamps,
        soft_delete=soft_delete,
        options=options,
    )


def _as_primary_key(field: FieldSchema) -> FieldSchema:
    if field.nullable:
        raise ConfigError(f"primary key {field.name!r} cannot be nullable", field=field.name)
    auto = field.kind is FieldKind.INT and not field.has_default
    return attrs.evolve(field, primary_key=True, auto_increment=auto)


def _field_groups(model: str, option: str, groups: Any, names: set[str]) -> tuple[tuple[str, ...], ...]:
    result = []
    for group in groups:
        columns = (group,) if isinstance(group, str) else tuple(group)
        if not columns:
            raise ConfigError(f"{model}.__dataflow__[{option!r}] has an empty group", model=model)
        for column in columns:
            if column not in names:
                raise ConfigError(
                    f"{model}.__dataflow__[{option!r}] names unknown field {column!r}{suggest(column, names)}",
                    model=model,
                    field=str(column),
                )
        result.append(columns)
    return tuple(result)


def _field_from_hint(
    model: str, name: str, hint: Any, default: Any, models: Mapping[type, ModelSchema], cls: type
) -> FieldSchema:
    max_length = None
    column_type = None
    nullable = False
    array = False
    personal = False
    # Both Annotated[X | None, ...] and Annotated[X, ...] | None are accepted.
    for _ in range(2):
        if typing.get_origin(hint) is typing.Annotated:
            hint, *extras = typing.get_args(hint)
            for extra in extras:
                if isinstance(extra, MaxLength):
                    max_length = extra.value
                elif isinstance(extra, Array):
                    array = True
                elif isinstance(extra, ColumnType):
                    column_type = extra.value
                elif isinstance(extra, Personal):
                    personal = True
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            if len(args) != 1:
                raise ConfigError(
                    f"{model}.{name}: unions other than 'X | None' are not supported", model=model, field=name
                )
            nullable = nullable or len(args) != len(typing.get_args(hint))
            hint = args[0]
    origin = typing.get_origin(hint)
    # list[int] and the like: a JSON field that checks its elements (a native array when Array()).
    element_kind = None
    if origin is list and len(typing.get_args(hint)) == 1:
        element_kind = ELEMENT_KINDS.get(typing.get_args(hint)[0])
    if array and element_kind is None:
        raise ConfigError(
            f"{model}.{name}: Array() applies to list[int], list[str], list[float] and list[bool] only",
            model=model,
            field=name,
        )

    default_factory = None
    if isinstance(default, (dict, list)):
        value = default
        default, default_factory = MISSING, (lambda: copy.deepcopy(value))

    common: dict[str, Any] = dict(
        name=name,
        nullable=nullable,
        default=default,
        default_factory=default_factory,
        max_length=max_length,
        column_type=column_type,
        personal=personal,
    )
    if hint is cls:
        # The kind is a placeholder until the key is known (see schema_from_class).
        return FieldSchema(kind=FieldKind.INT, references=model, **common)
    if hint in models:
        target = models[hint]
        return FieldSchema(kind=target.pk.kind, references=target.name, **common)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return FieldSchema(kind=FieldKind.ENUM, enum_type=hint, **common)
    kind = PYTHON_KINDS.get(origin or hint)
    if kind is None:
        raise ConfigError(
            f"{model}.{name}: type {getattr(hint, '__name__', hint)!r} is not supported; use str, int, float, "
            "bool, bytes, Decimal, datetime, date, time, UUID, dict, list, an Enum or another model",
            model=model,
            field=name,
        )
    if max_length is not None and kind not in (FieldKind.STR, FieldKind.BYTES):
        raise ConfigError(f"{model}.{name}: MaxLength applies to str and bytes only", model=model, field=name)
    if element_kind is not None:
        common.update(element_kind=element_kind, array=array)
    return FieldSchema(kind=kind, **common)


def creation_order(schemas: Iterable[ModelSchema]) -> list[ModelSchema]:
    """``schemas`` ordered so that every model they reference comes first (a reference cycle is broken anywhere)."""
    by_name = {s.name: s for s in schemas}
    ordered: dict[str, ModelSchema] = {}

    def visit(schema: ModelSchema, path: tuple[str, ...]) -> None:
        if schema.name in ordered or schema.name in path:
            return
        for field in schema.fields:
            if field.references is not None and field.references in by_name:
                visit(by_name[field.references], (*path, schema.name))
        ordered[schema.name] = schema

    for schema in by_name.values():
        visit(schema, ())
    return list(ordered.values())
