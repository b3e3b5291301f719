"""CHECK constraints that hold an enum column to its members: the SQL, and reading the members back.

A dialect whose column type does not say which members an enum has (TEXT,
VARCHAR, INTEGER) writes ``CONSTRAINT ck_<table>_<column> CHECK (col IN (...))``
with the table, and its introspection reads the members back, so that a
migration sees a member leave the enum and can count the rows that hold it.
DDL takes no bound parameters: the literals are the members declared in model
code, never node input.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

from .fields import FieldKind, FieldSchema


def integer_members(field: FieldSchema) -> bool:
    """Are all the enum's values ints (stored as integers, listed unquoted)?"""
    assert field.enum_type is not None
    return all(type(member.value) is int for member in field.enum_type)


def enum_members(field: FieldSchema) -> frozenset[str] | None:
    """The values an enum column admits, as text (``"1"`` for an int member); None for other kinds."""
    if field.kind is not FieldKind.ENUM or field.enum_type is None:
        return None
    return frozenset(_text(member) for member in field.enum_type)


def _text(member: enum.Enum) -> str:
    return str(int(member.value)) if type(member.value) is int else str(member.value)


def standard_literal(text: str) -> str:
    """A string literal where only a quote needs escaping (doubled)."""
    return "'" + text.replace("'", "''") + "'"


def enum_check(field: FieldSchema, quoted_column: str, literal: Callable[[str], str] = standard_literal) -> str:
    """``CHECK (col IN (...))`` listing the enum's values, in declaration order."""
    assert field.enum_type is not None
    if integer_members(field):
        values = ", ".join(str(int(member.value)) for member in field.enum_type)
    else:
        values = ", ".join(literal(str(member.value)) for member in field.enum_type)
    return f"CHECK ({quoted_column} IN ({values}))"


_STANDARD = re.compile(r"(?:_\w+)?'((?:[^']|'')*)'|(-?\d+)")
_BACKSLASHED = re.compile(r"(?:_\w+)?'((?:[^'\\]|''|\\.)*)'|(-?\d+)")
_SEPARATOR = re.compile(r"\s*,\s*")


def read_members(values: str, *, backslash_escapes: bool = False) -> frozenset[str] | None:
    """The members listed in the text between ``IN (`` and ``)``, as the server stored it.

    Accepts quoted literals (``''`` escapes, and ``\\'`` ones where the server
    has ``backslash_escapes``, with MySQL's ``_utf8mb4`` introducer) and
    integers; anything else is None.
    """
    pattern = _BACKSLASHED if backslash_escapes else _STANDARD
    found: set[str] = set()
    position, text = 0, values.strip()
    while position < len(text):
        match = pattern.match(text, position)
        if match is None:
            return None
        quoted, number = match.groups()
        if number is not None:
            found.add(number)
        else:
            quoted = quoted.replace("''", "'")
            found.add(re.sub(r"\\(.)", r"\1", quoted) if backslash_escapes else quoted)
        position = match.end()
        if position < len(text):
            separator = _SEPARATOR.match(text, position)
            if separator is None or separator.end() == position:
                return None
            position = separator.end()
    return frozenset(found)
