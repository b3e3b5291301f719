"""Raw SQL that writes the table of a captured model: refused, or captured when it returns the rows it changed.

DataFlow cannot know which rows an arbitrary statement changes, so a raw
statement whose written table (the one after ``INSERT INTO``, between
``UPDATE`` and ``SET``, between ``DELETE`` and ``WHERE``; any table a ``WITH``
or ``EXPLAIN ANALYZE`` that writes, a ``TRUNCATE``, ``COPY``, ``LOAD DATA`` or
``MERGE`` names) is the
table of a model a change listener captures (``__dataflow__ = {"audit": True}``)
is refused with a ``ValidationError`` on ``query``. The change is known, and the
statement runs captured, when the caller names the model (``model="Account"``)
and the statement is an ``INSERT`` or a ``DELETE`` that ends in ``RETURNING``
of the whole rows: the rows returned are the after images of the inserted rows,
or the before images of the deleted ones, handed to the listeners in the
statement's own transaction, as a node's would be. An ``UPDATE`` returns only
after images, so it stays refused: the nodes capture updates.

What this does not see: writes made by functions, procedures or triggers a
statement calls, and DDL (``ALTER``, ``DROP``), which are not refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .changes import ChangeListener, ChangeSet, RowChange
from .errors import ValidationError
from .session import Session

if TYPE_CHECKING:
    from .schema import ModelSchema

# Strings, dollar-quoted bodies and comments are skipped; quoted identifiers and words are the tokens.
_TOKEN = re.compile(
    r"""'(?:[^']|'')*'|(\$[A-Za-z_]*\$).*?\1|--[^\n]*|/\*.*?\*/"""
    r"""|"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|([A-Za-z_][A-Za-z0-9_$]*)|(\()""",
    re.S,
)
_QUOTED, _BACKTICKED, _WORD, _PAREN = 2, 3, 4, 5

_WRITE_WORDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "TRUNCATE", "COPY", "LOAD", "UPSERT"})
_TARGET_ENDS: dict[str, frozenset[str]] = {
    # Where the written table's clause ends, by the statement's first word; None of these: the whole statement.
    "INSERT": frozenset({"(", "SELECT", "VALUES", "VALUE", "DEFAULT", "SET", "WITH", "ON", "RETURNING"}),
    "REPLACE": frozenset({"(", "SELECT", "VALUES", "VALUE", "DEFAULT", "SET", "WITH"}),
    "UPDATE": frozenset({"SET"}),
    "DELETE": frozenset({"WHERE", "USING", "RETURNING", "ORDER", "LIMIT"}),
}
_CAPTURABLE = ("INSERT", "DELETE")
_UPSERT_WORDS = frozenset({"CONFLICT", "DUPLICATE", "REPLACE", "IGNORE"})


def _tokens(query: str) -> list[tuple[str, bool]]:
    """The statement's identifiers and words, upper-cased, each with whether it was quoted."""
    found: list[tuple[str, bool]] = []
    for match in _TOKEN.finditer(query):
        if match.group(_WORD):
            found.append((match.group(_WORD).upper(), False))
        elif match.group(_QUOTED) is not None or match.group(_BACKTICKED) is not None:
            found.append(((match.group(_QUOTED) or match.group(_BACKTICKED) or "").upper(), True))
        elif match.group(_PAREN):
            found.append(("(", False))
    return found


def _first(tokens: list[tuple[str, bool]]) -> str:
    return next((word for word, quoted in tokens if not quoted and word != "("), "")


def first_word(query: str) -> str:
    """The statement's first keyword, upper-cased (``""`` when it has none)."""
    return _first(_tokens(query))


def written_tables(query: str, tables: Sequence[str]) -> tuple[str, list[str]]:
    """The statement's first word, and which of ``tables`` it may write (none for a statement that only reads)."""
    tokens = _tokens(query)
    first = _first(tokens)
    words = [word for word, quoted in tokens if not quoted]
    if first == "WITH" or (first == "EXPLAIN" and {"ANALYZE", "ANALYSE"} & set(words)):
        # A WITH may hold a write; EXPLAIN ANALYZE runs the statement it explains.
        # ``SELECT ... FOR UPDATE`` locks rows, it does not write them.
        writes = any(
            w in _WRITE_WORDS and not (w == "UPDATE" and words[i - 1 : i] == ["FOR"]) for i, w in enumerate(words)
        )
        scope = tokens if writes else []
    elif first in _TARGET_ENDS:
        ends = _TARGET_ENDS[first]
        start = next(i for i, (word, _) in enumerate(tokens) if word == first)
        scope = []
        for word, quoted in tokens[start + 1 :]:
            if not quoted and word in ends:
                break
            scope.append((word, quoted))
    else:
        scope = tokens if first in _WRITE_WORDS else []
    names = {word for word, _ in scope}
    return first, [table for table in tables if table.upper() in names]


def captured_tables(session: Session) -> dict[str, ModelSchema]:
    """The tables of this instance's captured models, by table name."""
    return {session.db.schemas[name].table: session.db.schemas[name] for name in session.db.captured}


def check_raw_write(session: Session, query: str, model: str | type | None) -> ModelSchema | None:
    """Refuse a raw write of a captured model's table; the model to capture when the statement may run captured."""
    tables = captured_tables(session)
    first, written = written_tables(query, list(tables))
    named = None if model is None else session.db.schema(model)
    if named is not None and named.name not in session.db.captured:
        named = None  # nothing listens to it: the statement runs as any other
    if named is None:
        if not written:
            return None
        schema = tables[written[0]]
        raise ValidationError(
            f"raw SQL writes the table {schema.table!r} of {schema.name}, whose changes are captured (audit), and "
            "DataFlow cannot know which rows it changes: write it through the model's nodes or db.express, or "
            f"name it (model={schema.name!r}) in an INSERT or DELETE that ends in RETURNING * "
            "(the rows it changed are then recorded)",
            model=schema.name,
            field="query",
        )
    if written != [named.table]:
        raise ValidationError(
            f"raw SQL names model {named.name!r}, but the statement writes "
            f"{', '.join(repr(t) for t in written) or 'none of the captured tables'}, not {named.table!r} alone",
            model=named.name,
            field="query",
        )
    upper = {word for word, quoted in _tokens(query) if not quoted}
    returning = session.dialect.capabilities.returning
    if first not in _CAPTURABLE or "RETURNING" not in upper or upper & _UPSERT_WORDS:
        problem = (
            "an UPDATE (or an upsert) returns the rows only as they are after it, so their before images are unknown"
            if first in ("UPDATE", "INSERT")
            else f"a {first or 'statement'} statement cannot return the rows it changed"
        )
        raise ValidationError(
            f"raw SQL on {named.name} (captured) runs only as an INSERT or DELETE ending in RETURNING *: {problem}; "
            f"use {named.name}'s nodes for it",
            model=named.name,
            field="query",
        )
    if first.lower() not in returning:
        raise ValidationError(
            f"raw SQL on {named.name} (captured) needs {first} ... RETURNING, which {session.dialect.name} does not "
            f"have: use {named.name}'s nodes for it",
            model=named.name,
            field="query",
        )
    return named


async def run_captured_sql(
    session: Session, schema: ModelSchema, sql: str, values: list[Any], node_id: str
) -> tuple[list[str], list[Sequence[Any]]]:
    """Run an ``INSERT``/``DELETE ... RETURNING`` of ``schema``'s table and hand its rows to the listeners."""
    listeners: tuple[ChangeListener, ...] = session.db.captured[schema.name]
    table = session.table(schema)
    async with session.atomic():
        names, rows = await session.fetch_named(sql, values, operation="sql")
        index = {name.lower(): i for i, name in enumerate(names)}
        missing = [c for c in table.columns if c.lower() not in index]
        if missing:
            raise ValidationError(
                f"raw SQL on {schema.name} (captured) must return whole rows (RETURNING *); it leaves out "
                f"{', '.join(missing)}, so nothing was changed",
                model=schema.name,
                field="query",
            )
        creates = first_word(sql) == "INSERT"
        changes: list[RowChange] = []
        for row in rows:
            record = table.decode([row[index[c.lower()]] for c in table.columns])
            key = record[schema.primary_key]
            change = RowChange("create", key, None, record) if creates else RowChange("delete", key, record, None)
            changes.append(change)
        if changes:
            change_set = ChangeSet(schema, "sql", node_id, tuple(changes))
            for listener in listeners:
                await listener.changed(session, change_set)
    return names, rows
