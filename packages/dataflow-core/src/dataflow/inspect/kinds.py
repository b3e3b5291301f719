"""The field kind a live column type most likely holds, judged from the type's name alone."""

from __future__ import annotations

import re

from ..fields import FieldKind

# Keyed by the first word of the lower-cased type: "character varying(120)" -> "character".
_KINDS = {
    **dict.fromkeys(
        ("integer", "int", "bigint", "smallint", "tinyint", "mediumint", "int2", "int4", "int8"), FieldKind.INT
    ),
    **dict.fromkeys(("serial", "bigserial", "smallserial"), FieldKind.INT),
    **dict.fromkeys(
        ("character", "varchar", "char", "nvarchar", "nchar", "text", "tinytext", "mediumtext", "longtext", "clob"),
        FieldKind.STR,
    ),
    **dict.fromkeys(("boolean", "bool"), FieldKind.BOOL),
    **dict.fromkeys(("real", "double", "float", "float4", "float8"), FieldKind.FLOAT),
    **dict.fromkeys(("numeric", "decimal"), FieldKind.DECIMAL),
    **dict.fromkeys(("timestamp", "timestamptz", "datetime"), FieldKind.DATETIME),
    "date": FieldKind.DATE,
    **dict.fromkeys(("time", "timetz"), FieldKind.TIME),
    **dict.fromkeys(("bytea", "blob", "tinyblob", "mediumblob", "longblob", "binary", "varbinary"), FieldKind.BYTES),
    "uuid": FieldKind.UUID,
    **dict.fromkeys(("json", "jsonb"), FieldKind.JSON),
}
_WORD = re.compile(r"[a-z][a-z0-9]*")
_LENGTH = re.compile(r"\(\s*(\d+)\s*\)")


def guess_kind(type_name: str) -> tuple[FieldKind, int | None] | None:
    """``(kind, max_length)`` for a live type, or None when DataFlow has no kind for it (arrays, geometry, ...)."""
    text = type_name.strip().lower()
    if text.endswith("]"):
        return None  # a native array: only DataFlow's own Array() columns are mapped back
    if re.fullmatch(r"tinyint\s*\(\s*1\s*\)( unsigned)?", text):
        return FieldKind.BOOL, None  # MySQL's boolean
    word = _WORD.match(text)
    kind = _KINDS.get(word[0]) if word else None
    if kind is None:
        return None
    length = _LENGTH.search(text)
    sized = kind in (FieldKind.STR, FieldKind.BYTES) and length is not None
    return kind, int(length[1]) if sized and length is not None else None
