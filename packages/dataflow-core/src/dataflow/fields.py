"""Field kinds and the validation of values against them.

A model's type hints are read once into :class:`FieldSchema` objects; every
value a node receives is checked here before any SQL is built.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import math
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from .errors import ConfigError, ValidationError


def utcnow() -> dt.datetime:
    """The aware current time that managed timestamps (``created_at``, ``updated_at``, ``deleted_at``) get."""
    return dt.datetime.now(dt.UTC)


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


INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""The range of an int field: the 64-bit integers every supported database stores."""


MAX_JSON_DEPTH = 30
"""The deepest nesting of objects and lists a JSON field takes: ``{"a": [1]}`` is 2 deep.

MariaDB's JSON functions stop at about 32 levels; the same limit on every
backend keeps a document written on one storable on all.
"""


class Unstorable(ValueError):
    """A value of the right type that no database can store faithfully; the text says why."""


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
                checked = _VALIDATORS[self.kind](self, value)
            except Unstorable as exc:
                raise ValidationError(f"{model}.{self.name} {exc}", model=model, field=self.name) from None
            except (ValueError, TypeError, ArithmeticError) as exc:
                raise ValidationError(
                    f"{model}.{self.name} expects {self.type_name}, got {type(value).__name__} {_short(value)}",
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
            except Unstorable as exc:
                raise ValidationError(f"{model}.{self.name}[{index}] {exc}", model=model, field=self.name) from None
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


def valid_text(text: str) -> bool:
    """Can every backend store ``text``: Unicode that UTF-8 can carry (no lone surrogates), without NUL?"""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(text: str) -> str:
    """``text``, or ``Unstorable`` when some backend cannot store it faithfully.

    Lone surrogates come from decoding bytes with ``surrogateescape`` and the
    like; drivers encode them differently (MariaDB's turned them into other
    characters). PostgreSQL text cannot hold NUL. Both are refused everywhere.
    """
    if valid_text(text):
        return text
    if "\x00" in text:
        raise Unstorable("contains a NUL character (\\x00), which PostgreSQL cannot store; no backend takes it")
    bad = next(c for c in text if 0xD800 <= ord(c) <= 0xDFFF)
    raise Unstorable(f"is not valid Unicode text: it contains the lone surrogate {bad!r}")


_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
"""``\\u0000`` in JSON text (a NUL in a string), not an escaped backslash followed by ``u0000``."""


def _str(field: FieldSchema, value: Any) -> str:
    if type(value) is str:
        return check_text(value)
    if isinstance(value, str):
        return check_text(str(value))
    raise TypeError


def _int(field: FieldSchema, value: Any) -> int:
    if type(value) is int:
        result = value
    elif isinstance(value, int) and not isinstance(value, bool):
        result = int(value)
    else:
        raise TypeError
    if not INT_MIN <= result <= INT_MAX:
        raise Unstorable(f"is {_short(result)}, outside the 64-bit integer range ({INT_MIN} to {INT_MAX})")
    return result


def _float(field: FieldSchema, value: Any) -> float:
    if type(value) is float:
        result = value
    elif isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
        result = float(value)
    else:
        raise TypeError
    if not math.isfinite(result):
        # PostgreSQL would store NaN, SQLite would turn it into NULL, MariaDB refuses it: one rule for all.
        raise Unstorable(f"must be a finite number, got {result!r} (NaN and infinities are not stored)")
    return result


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
        result = value
    elif isinstance(value, str):
        result = dt.datetime.fromisoformat(value)
    else:
        raise TypeError
    # A naive datetime is UTC, and every value is an aware UTC one, so that all backends agree.
    if result.tzinfo is None:
        return result.replace(tzinfo=dt.UTC)
    return result.astimezone(dt.UTC)


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
        result = value
    elif isinstance(value, str):
        result = dt.time.fromisoformat(value)
    else:
        raise TypeError
    if result.tzinfo is not None:
        # A clock time with an offset has no instant to convert; backends kept, dropped or refused it.
        raise Unstorable(f"is a time with a zone ({result.isoformat()}); time fields hold naive times")
    return result


def _uuid(field: FieldSchema, value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        return uuid.UUID(value)
    raise TypeError


def _json(field: FieldSchema, value: Any) -> Any:
    if not isinstance(value, (dict, list)):
        raise TypeError
    # Refuse what cannot be stored now, rather than in the driver: strict JSON, valid Unicode.
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except RecursionError:
        raise Unstorable("is nested too deeply to be stored as JSON") from None
    except ValueError as exc:
        raise Unstorable(f"cannot be stored as JSON: {exc} (NaN and infinities are not JSON)") from None
    if not valid_text(text):
        raise Unstorable("is not valid Unicode text: a key or string in it contains a lone surrogate")
    if "\\u0000" in text and _JSON_NUL.search(text):
        raise Unstorable("contains a NUL character (\\u0000), which PostgreSQL cannot store; no backend takes it")
    # Counting brackets (in C) settles almost every document without walking it.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise Unstorable(f"is nested too deeply to be stored as JSON (more than {MAX_JSON_DEPTH} levels)")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Does the JSON value nest objects and lists more than ``limit`` levels deep? Walks without recursion."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        container, level = pending.pop()
        if level > limit:
            return True
        items = container.values() if isinstance(container, dict) else container
        pending.extend((item, level + 1) for item in items if isinstance(item, (dict, list)))
    return False


def _enum(field: FieldSchema, value: Any) -> enum.Enum:
    enum_type = field.enum_type
    assert enum_type is not None
    if isinstance(value, enum_type):
        return value
    return enum_type(value)


def _all_text(values: Sequence[Any]) -> bool:
    return valid_text("".join(values))


def _all_in_range(values: Sequence[Any]) -> bool:
    return not values or (min(values) >= INT_MIN and max(values) <= INT_MAX)


def _all_finite(values: Sequence[Any]) -> bool:
    # One C loop: a NaN or an infinity makes the sum non-finite (a rare overflow only costs the slow path).
    return math.isfinite(sum(values))


COLUMN_CHECKS: dict[FieldKind, Callable[[Sequence[Any]], bool]] = {
    FieldKind.STR: _all_text,
    FieldKind.INT: _all_in_range,
    FieldKind.FLOAT: _all_finite,
}
"""For kinds whose exact Python type can still hold unstorable values: True when a whole
column of values of that exact type is storable (False sends them through :meth:`FieldSchema.validate`)."""


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
