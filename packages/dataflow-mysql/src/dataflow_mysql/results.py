"""Result sets read as aiomysql reads them, each distinct column description parsed once per connection.

A result set's column descriptions come before its rows, one packet per
column, and aiomysql parses every one (six length-coded strings and a struct)
for every query: for a read by key that is more Python than the rest of the
result. The same query sends the same bytes every time, so a connection
keeps what it made of each packet (the parsed field, its DB-API description,
its decoder) by the packet's bytes, and a repeated description costs one
dictionary lookup. The bytes name the schema, table, column, type and
character set, so a different column can never match. Private aiomysql
and PyMySQL names used: ``MySQLResult`` and its ``_get_descriptions``,
``Connection._read_packet``, ``use_unicode``, ``encoding``, ``decoders``.
"""

from __future__ import annotations

from typing import Any

from aiomysql.connection import MySQLResult
from pymysql.connections import TEXT_TYPES
from pymysql.constants import FIELD_TYPE
from pymysql.converters import through
from pymysql.protocol import FieldDescriptorPacket

DESCRIPTIONS_KEPT = 2048
"""Distinct column descriptions a connection keeps; past it, it starts again (a program with more
distinct result columns than this only parses as aiomysql does)."""

Described = tuple[Any, tuple[Any, ...], tuple[str | None, Any]]
"""The parsed field, its DB-API description, and ``(encoding, converter)`` for its values."""


def describe(connection: Any, field: Any) -> Described:
    """What aiomysql's ``MySQLResult._get_descriptions`` makes of one column's field packet."""
    field_type = field.type_code
    encoding: str | None
    if not connection.use_unicode:
        encoding = None
    elif field_type == FIELD_TYPE.JSON:
        encoding = connection.encoding  # JSON comes with charset binary, yet is text in the connection's encoding
    elif field_type in TEXT_TYPES:
        encoding = None if field.charsetnr == 63 else connection.encoding  # 63: binary (BINARY, BLOB)
    else:
        encoding = "ascii"  # numbers, dates and times
    converter = connection.decoders.get(field_type)
    return field, field.description(), (encoding, None if converter is through else converter)


class KnownColumnsResult(MySQLResult):  # type: ignore[misc]  # aiomysql ships no types
    """aiomysql's buffered result, with column descriptions looked up in its connection's ``descriptions``."""

    async def _get_descriptions(self) -> None:
        connection = self.connection
        known: dict[bytes, Described] = connection.descriptions
        fields, converters, description = [], [], []
        for _ in range(self.field_count):
            data = (await connection._read_packet()).get_all_data()
            described = known.get(data)
            if described is None:
                described = describe(connection, FieldDescriptorPacket(data, connection.encoding))
                if len(known) >= DESCRIPTIONS_KEPT:
                    known.clear()
                known[data] = described
            fields.append(described[0])
            description.append(described[1])
            converters.append(described[2])
        self.fields, self.converters = fields, converters
        eof_packet = await connection._read_packet()
        assert eof_packet.is_eof_packet(), "Protocol error, expecting EOF"
        self.description = tuple(description)
