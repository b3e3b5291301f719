"""Field kinds and the validation of values against them.

A model's type hints are read once into :class:`FieldSchema` objects; every
value a node receives is checked here before any SQL is built.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from .errors import ConfigError, ValidationError


class FieldKind(enum.Enum):
    """The storage kinds DataFlow knows; dialects map each to a column type."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    BYTES = "bytes"
    DECIMAL = "decimal"
    DATETIME = "datetime"
    DATE = "date"
    TIME = "time"
    UUID = "uuid"
    JSON = "json"
    ENUM = "enum"


PYTHON_KINDS: dict[Any, FieldKind] = {
    str: FieldKind.STR,
    int: FieldKind.INT,
    float: FieldKind.FLOAT,
    bool: FieldKind.BOOL,
    bytes: FieldKind.BYTES,
    decimal.Decimal: FieldKind.DECIMAL,
    dt.datetime: FieldKind.DATETIME,
    dt.date: FieldKind.DATE,
    dt.time: FieldKind.TIME,
    uuid.UUID: FieldKind.UUID,
    dict: FieldKind.JSON,
    list: FieldKind.JSON,
}


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
        if value is None:
            if self.nullable:
                return None
            raise ValidationError(f"{model}.{self.name} cannot be null", model=model, field=self.name)
        try:
            checked = _VALIDATORS[self.kind](self, value)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ValidationError(
                f"{model}.{self.name} expects {self.type_name}, got {type(value).__name__} {_short(value)}",
                model=model,
                field=self.name,
            ) from exc
        if self.element_kind is not None:
            checked = self._validate_elements(checked, model)
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
                f"{model}.{self.name} expects {self.type_name}, got {type(value).__name__} {_short(value)}",
                model=model,
                field=self.name,
            )
        check = _VALIDATORS[self.element_kind]
        checked = []
        for index, item in enumerate(value):
            try:
                if item is None:
                    raise TypeError
                checked.append(check(self, item))
            except (ValueError, TypeError, ArithmeticError) as exc:
                raise ValidationError(
                    f"{model}.{self.name}[{index}] expects {self.element_kind.value}, "
                    f"got {type(item).__name__} {_short(item)}",
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


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _str(field: FieldSchema, value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    raise TypeError


def _int(field: FieldSchema, value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    raise TypeError


def _float(field: FieldSchema, value: Any) -> float:
    if type(value) is float:
        return value
    if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
        return float(value)
    raise TypeError


def _bool(field: FieldSchema, value: Any) -> bool:
    if type(value) is bool:
        return value
    raise TypeError


def _bytes(field: FieldSchema, value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError


def _decimal(field: FieldSchema, value: Any) -> decimal.Decimal:
    if isinstance(value, decimal.Decimal):
        result = value
    elif isinstance(value, (int, str)) and not isinstance(value, bool):
        result = decimal.Decimal(value)
    elif isinstance(value, float):
        result = decimal.Decimal(str(value))
    else:
        raise TypeError
    if not result.is_finite():
        raise ValueError("not a finite number")
    return result


def _datetime(field: FieldSchema, value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    raise TypeError


def _date(field: FieldSchema, value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise TypeError
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    raise TypeError


def _time(field: FieldSchema, value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        return dt.time.fromisoformat(value)
    raise TypeError


def _uuid(field: FieldSchema, value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        return uuid.UUID(value)
    raise TypeError


def _json(field: FieldSchema, value: Any) -> Any:
    if isinstance(value, (dict, list)):
        json.dumps(value)  # refuse what cannot be stored, now rather than in the driver
        return value
    raise TypeError


def _enum(field: FieldSchema, value: Any) -> enum.Enum:
    enum_type = field.enum_type
    assert enum_type is not None
    if isinstance(value, enum_type):
        return value
    return enum_type(value)


_VALIDATORS: dict[FieldKind, Callable[[FieldSchema, Any], Any]] = {
    FieldKind.STR: _str,
    FieldKind.INT: _int,
    FieldKind.FLOAT: _float,
    FieldKind.BOOL: _bool,
    FieldKind.BYTES: _bytes,
    FieldKind.DECIMAL: _decimal,
    FieldKind.DATETIME: _datetime,
    FieldKind.DATE: _date,
    FieldKind.TIME: _time,
    FieldKind.UUID: _uuid,
    FieldKind.JSON: _json,
    FieldKind.ENUM: _enum,
}
