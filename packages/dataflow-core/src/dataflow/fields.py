"""Fields: what a model's type hints say about each column, and the validation of a value against its field.

A model's type hints are read once into :class:`FieldSchema` objects; every
value a node receives is checked by :meth:`FieldSchema.validate` (with the
per-kind checks of :mod:`dataflow.validators`) before any SQL is built.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable
from typing import Any

import attrs

from .errors import ConfigError, ValidationError
from .kinds import INT_MAX, INT_MIN, MAX_JSON_DEPTH, PYTHON_KINDS, FieldKind, Unstorable
from .validators import COLUMN_CHECKS, VALIDATORS, check_text, short, valid_text

__all__ = [
    "COLUMN_CHECKS", "ELEMENT_KINDS", "INT_MAX", "INT_MIN", "MAX_JSON_DEPTH", "MISSING", "PYTHON_KINDS", "Array",
    "ColumnType", "FieldKind", "FieldSchema", "MaxLength", "Personal", "Unstorable", "check_text", "utcnow",
    "valid_text",
]  # fmt: skip
"""What other modules import from here; the kinds and per-kind checks live in :mod:`.kinds` and :mod:`.validators`."""


def utcnow() -> dt.datetime:
    """The aware current time that managed timestamps (``created_at``, ``updated_at``, ``deleted_at``) get."""
    return dt.datetime.now(dt.UTC)


class _Missing(enum.Enum):
    MISSING = "MISSING"


MISSING = _Missing.MISSING
"""Marks a field without a default."""


@attrs.frozen
class MaxLength:
    """``Annotated[str, MaxLength(255)]``: the longest value a str field takes."""

    value: int


_COLUMN_TYPE_TEXT = re.compile(r"^[A-Za-z][A-Za-z0-9_ ,()\[\]]*$")


def _column_type_text(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _COLUMN_TYPE_TEXT.match(value):
        raise ConfigError(
            f"ColumnType({value!r}) is not a column type: use letters, digits, spaces, '_', ',', '()' and '[]', "
            "as in ColumnType('integer') or ColumnType('character varying(120)')"
        )


@attrs.frozen
class ColumnType:
    """``Annotated[int, ColumnType("integer")]``: the column has this database type, not the kind's default.

    For tables DataFlow did not create (``dataflow inspectdb`` writes it): the
    type is used in DDL and compared by migrations as written, so a model of an
    existing table matches it exactly. Values still cross as the field's kind.
    """

    value: str = attrs.field(validator=_column_type_text)


@attrs.frozen
class Personal:
    """``Annotated[str, Personal()]``: personal data, never shown in an error message (plugins may do more).

    The value is validated as usual; a refused value is named by its field and
    type only. dataflow-audit encrypts personal values in its trail.
    """


@attrs.frozen
class Array:
    """``Annotated[list[int], Array()]``: store the list as a native array where the database has them.

    Applies to ``list[int]``, ``list[str]``, ``list[float]`` and ``list[bool]``
    only. PostgreSQL makes the column ``BIGINT[]``, ``TEXT[]``, ...; databases
    without arrays keep it as JSON, as they do any ``list``.
    """


ELEMENT_KINDS: dict[Any, FieldKind] = {
    int: FieldKind.INT,
    str: FieldKind.STR,
    float: FieldKind.FLOAT,
    bool: FieldKind.BOOL,
}
"""Element types a ``list[X]`` field checks (and an ``Array()`` field may hold)."""


@attrs.frozen
class FieldSchema:
    """One column of a model, computed once from the class."""

    name: str
    kind: FieldKind
    nullable: bool = False
    default: Any = MISSING
    default_factory: Callable[[], Any] | None = None
    primary_key: bool = False
    auto_increment: bool = False
    max_length: int | None = None
    references: str | None = None
    """The referenced model's name, for a foreign key."""
    enum_type: type[enum.Enum] | None = None
    managed: bool = False
    """Kept by DataFlow (``created_at``/``updated_at``/``deleted_at``); callers cannot set it."""
    element_kind: FieldKind | None = None
    """For a JSON field typed ``list[int]``/``list[str]``/``list[float]``/``list[bool]``: the kind of every element."""
    array: bool = False
    """Declared ``Array()``: a native array column where the dialect has one (``element_kind`` is set)."""
    column_type: str | None = None
    """Declared ``ColumnType(...)``: the database type of the column, instead of the dialect's for the kind."""
    personal: bool = attrs.field(default=False, eq=False)
    """Declared ``Personal()``: personal data (the column is the same; migrations ignore it)."""

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING or self.default_factory is not None

    @property
    def required(self) -> bool:
        """Must a Create name this field?"""
        return not (self.nullable or self.has_default or self.auto_increment or self.managed)

    def make_default(self) -> Any:
        if self.default_factory is not None:
            return self.default_factory()
        return None if self.default is MISSING else self.default

    def validate(self, value: Any, model: str) -> Any:
        """Return ``value`` as this field's Python type, or raise ``ValidationError``."""
        if not self.personal:
            return self._validate(value, model)
        try:
            return self._validate(value, model)
        except ValidationError as exc:
            # The message of a refused personal value names the field and the type, never the value.
            raise ValidationError(
                f"{model}.{self.name} expects {self.type_name}; the value given was refused "
                "(it is personal data, so it is not shown)",
                model=model,
                field=exc.field or self.name,
            ) from None

    def _validate(self, value: Any, model: str) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise ValidationError(f"{model}.{self.name} cannot be null", model=model, field=self.name)
        if self.element_kind is not None:
            # A list of checked scalars is storable JSON; each element's error names its index.
            checked = self._validate_elements(value, model)
        else:
            try:
                checked = VALIDATORS[self.kind](self, value)
            except Unstorable as exc:
                raise ValidationError(f"{model}.{self.name} {exc}", model=model, field=self.name) from None
            except (ValueError, TypeError, ArithmeticError) as exc:
                raise ValidationError(
                    f"{model}.{self.name} expects {self.type_name}, got {type(value).__name__} {short(value)}",
                    model=model,
                    field=self.name,
                ) from exc
        if self.max_length is not None and len(checked) > self.max_length:
            raise ValidationError(
                f"{model}.{self.name} is longer than its max_length of {self.max_length} ({len(checked)} characters)",
                model=model,
                field=self.name,
            )
        return checked

    def _validate_elements(self, value: Any, model: str) -> list[Any]:
        assert self.element_kind is not None
        if not isinstance(value, list):
            raise ValidationError(
                f"{model}.{self.name} expects {self.type_name}, got {type(value).__name__} {short(value)}",
                model=model,
                field=self.name,
            )
        check = VALIDATORS[self.element_kind]
        checked = []
        for index, item in enumerate(value):
            try:
                if item is None:
                    raise TypeError
                checked.append(check(self, item))
            except Unstorable as exc:
                raise ValidationError(f"{model}.{self.name}[{index}] {exc}", model=model, field=self.name) from None
            except (ValueError, TypeError, ArithmeticError) as exc:
                raise ValidationError(
                    f"{model}.{self.name}[{index}] expects {self.element_kind.value}, "
                    f"got {type(item).__name__} {short(item)}",
                    model=model,
                    field=self.name,
                ) from exc
        return checked

    @property
    def type_name(self) -> str:
        if self.enum_type is not None:
            return self.enum_type.__name__
        if self.element_kind is not None:
            return f"list[{self.element_kind.value}]"
        return self.kind.value
