"""The storage kinds of fields, the Python types that map to them, and the limits every backend shares."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any


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
