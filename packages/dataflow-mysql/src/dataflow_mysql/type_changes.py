"""MySQL column types compared: one spelling for each, and which changes keep every value.

MariaDB reports ``bigint(20)``, MySQL 8 ``bigint``; DataFlow writes
``DECIMAL(65, 30)``, the server reports ``decimal(65,30)``. :func:`canonical`
makes them one. :func:`widens` says whether converting a column keeps every
value exactly (INT to BIGINT, VARCHAR(n) to VARCHAR(m >= n) or LONGTEXT, ...);
anything it does not know counts as narrowing, which needs
``allow_destructive`` and is checked against the rows first.
"""

from __future__ import annotations

import re

import attrs

INTEGERS = {"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 5}
"""Integer types by rank: a higher rank holds every value of a lower one."""
_INTEGER_DIGITS = {"tinyint": 3, "smallint": 5, "mediumint": 8, "int": 10, "bigint": 20}
TEXTS = {"tinytext": 255, "text": 65535, "mediumtext": 16777215, "longtext": 4294967295, "json": 4294967295}
"""Unbounded text types (indexed only through a prefix) and the bytes they hold."""
BLOBS = {"tinyblob": 255, "blob": 65535, "mediumblob": 16777215, "longblob": 4294967295}
STRINGS = ("char", "varchar")
BINARIES = ("binary", "varbinary")
_CLOCKS = ("datetime", "time", "timestamp")
_ALIASES = {"integer": "int", "boolean": "tinyint(1)", "bool": "tinyint(1)", "double precision": "double"}
_NARROW_CHARSETS = ("ascii", "latin1", "binary")


def canonical(type_text: str) -> str:
    """One spelling of a column type, for comparison: lower case, no integer display widths
    (MariaDB's ``bigint(20)`` is MySQL 8's ``bigint``) except ``tinyint(1)``, no collation."""
    text = " ".join(type_text.lower().split())
    text = re.sub(r"\s*\(\s*", "(", text)
    text = re.sub(r"\s*,\s*", ",", text)
    text = re.sub(r"\s*\)", ")", text)
    text = re.sub(r" collate \w+", "", text)
    for alias, name in _ALIASES.items():
        if text == alias or text.startswith(alias + " "):
            text = name + text[len(alias) :]
    match = re.match(r"(tinyint|smallint|mediumint|int|bigint)\((\d+)\)", text)
    if match is not None and text[: match.end()] != "tinyint(1)":
        text = match[1] + text[match.end() :]
    return text


def display_type(declared: str, charset: str | None) -> str:
    """The live column's type as reported: upper case, with a character set other than utf8mb4."""
    text = canonical(declared).upper()
    if charset and charset != "utf8mb4" and "CHARACTER SET" not in text:
        text += f" CHARACTER SET {charset}"
    return text


@attrs.frozen
class ColumnType:
    """A canonical type taken apart: ``varchar(100)`` is base ``varchar`` with sizes ``(100,)``."""

    base: str
    sizes: tuple[int, ...] = ()
    unsigned: bool = False
    charset: str | None = None

    @classmethod
    def parse(cls, text: str) -> ColumnType:
        text = canonical(text)
        charset = None
        found = re.search(r" character set (\w+)", text)
        if found is not None:
            charset = found[1]
            text = text[: found.start()] + text[found.end() :]
        match = re.match(r"([a-z ]+?)(?:\(([\d,]+)\))?( unsigned)?( zerofill)?$", text)
        if match is None:
            return cls(base=text, charset=charset)
        sizes = tuple(int(part) for part in match[2].split(",")) if match[2] else ()
        base = match[1].strip()
        if base == "tinyint" and sizes == (1,):
            sizes = ()  # a bool is a tinyint for widening
        return cls(base=base, sizes=sizes, unsigned=bool(match[3]), charset=charset)

    @property
    def size(self) -> int:
        return self.sizes[0] if self.sizes else 0

    @property
    def capacity(self) -> int | None:
        """Bytes a string or binary value of this type can hold, if it is one."""
        if self.base in STRINGS:
            return self.size * (1 if self.charset in _NARROW_CHARSETS else 4)
        if self.base in BINARIES:
            return self.size
        return TEXTS.get(self.base, BLOBS.get(self.base))


def widens(old: str, new: str) -> bool:
    """Does converting a column of type ``old`` to ``new`` keep every value exactly?"""
    if canonical(old) == canonical(new):
        return True
    o, n = ColumnType.parse(old), ColumnType.parse(new)
    if o.charset != n.charset and n.charset in _NARROW_CHARSETS:
        return False
    if o.base in INTEGERS and n.base in INTEGERS:
        if o.unsigned and not n.unsigned:
            return INTEGERS[n.base] > INTEGERS[o.base]
        return o.unsigned == n.unsigned and INTEGERS[n.base] >= INTEGERS[o.base]
    if o.base in INTEGERS and n.base == "double":
        return INTEGERS[o.base] <= INTEGERS["int"]  # a double holds every integer up to 2**53
    if o.base in INTEGERS and n.base == "decimal" and len(n.sizes) == 2:
        return n.sizes[0] - n.sizes[1] >= _INTEGER_DIGITS[o.base]
    if (o.base, n.base) == ("float", "double"):
        return True
    if o.base == n.base == "decimal" and len(o.sizes) == len(n.sizes) == 2:
        return n.sizes[0] - n.sizes[1] >= o.sizes[0] - o.sizes[1] and n.sizes[1] >= o.sizes[1]
    if o.base in STRINGS and n.base in STRINGS:
        # CHAR drops trailing spaces: VARCHAR -> CHAR may change values.
        return n.size >= o.size and not (o.base == "varchar" and n.base == "char")
    if o.base in (*STRINGS, *TEXTS) and n.base in TEXTS:
        return n.base != "json" and (n.capacity or 0) >= (o.capacity or 0)
    if o.base in BINARIES and n.base == "varbinary":
        return n.size >= o.size
    if o.base in (*BINARIES, *BLOBS) and n.base in BLOBS:
        return (n.capacity or 0) >= (o.capacity or 0)
    if o.base == n.base and o.base in _CLOCKS:
        return n.size >= o.size
    if (o.base, n.base) in {("date", "datetime"), ("timestamp", "datetime")}:
        return n.size >= o.size
    return False


def integer_range(integer: ColumnType) -> tuple[int, int]:
    """The smallest and largest value of an integer type."""
    bits = 8 * {"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 8}[integer.base]
    if integer.unsigned:
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def prefixed(type_text: str) -> bool:
    """Is a column of this type indexed through a prefix (unbounded text or binary)?"""
    parsed = ColumnType.parse(type_text)
    return parsed.base in TEXTS or parsed.base in BLOBS
