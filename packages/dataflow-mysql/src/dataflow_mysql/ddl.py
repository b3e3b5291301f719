"""CREATE TABLE for MySQL and MariaDB: keys and indexes inside the one statement.

MySQL 8 has no ``CREATE INDEX IF NOT EXISTS``, and DDL is not transactional
on either server (each statement commits), so a table is created with all
its indexes, unique keys and foreign keys in one ``CREATE TABLE IF NOT
EXISTS``: running it twice is harmless, and no half-made table is left
behind when it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from dataflow.enum_checks import enum_check
from dataflow.errors import ConfigError
from dataflow.fields import FieldKind, FieldSchema
from dataflow.schema import ModelSchema

from .literals import literal
from .types import KEY_STR_LENGTH, MAX_INDEXED_BYTES, column_type, index_bytes

LIVE_COLUMN = "_dataflow_live"
"""1 while a soft-delete model's row is live, NULL once deleted: its unique keys end with this column, and
NULLs never collide, so values are unique among live rows (MySQL and MariaDB have no partial indexes).
Fields cannot start with ``_``, so it never meets a model's column; migrations leave it alone."""

Quote = Callable[[str], str]
Namer = Callable[[ModelSchema, str, Sequence[str]], str]


def keyed_fields(schema: ModelSchema) -> set[str]:
    """Fields in the primary key or a unique group: they must fit an exact (non-prefix) index."""
    return {schema.primary_key, *(name for group in schema.unique for name in group)}


def field_column_type(field: FieldSchema, schema: ModelSchema, tables: Mapping[str, ModelSchema]) -> str:
    """The column type, a foreign key taking its target key's type exactly (MySQL requires it)."""
    if field.references is not None and field.references in tables:
        target = tables[field.references]
        return column_type(target.pk, keyed=True)
    return column_type(field, keyed=field.name in keyed_fields(schema))


def check_schema(schema: ModelSchema, tables: Mapping[str, ModelSchema]) -> None:
    """Refuse what MySQL cannot index exactly, with what to change; raises ``ConfigError``."""
    types = {f.name: field_column_type(f, schema, tables) for f in schema.fields}
    for group in ((schema.primary_key,), *schema.unique):
        total = 0
        for name in group:
            size = index_bytes(types[name])
            if size is None:
                field = schema.by_name[name]
                hint = (
                    f"declare it Annotated[str, MaxLength(n)] with n <= {MAX_INDEXED_BYTES // 4}"
                    if field.kind in (FieldKind.STR, FieldKind.BYTES)
                    else "MySQL cannot put this kind in a unique key"
                )
                raise ConfigError(
                    f"{schema.name}.{name} ({types[name]}) cannot be part of a primary or unique key on MySQL; {hint}",
                    model=schema.name,
                    field=name,
                )
            total += size
        if total > MAX_INDEXED_BYTES:
            raise ConfigError(
                f"{schema.name}: the unique key ({', '.join(group)}) takes {total} bytes, over InnoDB's "
                f"{MAX_INDEXED_BYTES}; shorten the MaxLength of its str fields (4 bytes per character)",
                model=schema.name,
                field=group[0],
            )


def live_column(quote: Quote) -> str:
    """The definition of :data:`LIVE_COLUMN`."""
    return f"{quote(LIVE_COLUMN)} TINYINT AS (IF({quote('deleted_at')} IS NULL, 1, NULL)) STORED"


def unique_columns(schema: ModelSchema, group: Sequence[str]) -> tuple[str, ...]:
    """The columns of a unique key of ``group``: unique among live rows on a soft-delete model."""
    return (*group, LIVE_COLUMN) if schema.soft_delete else tuple(group)


def enum_checks(schema: ModelSchema, *, quote: Quote, namer: Namer) -> list[str]:
    """``CONSTRAINT ck_<table>_<column> CHECK (col IN (...))`` for each enum field: VARCHAR and BIGINT
    do not say the members, and migrations read them back from the CHECK."""
    return [
        f"CONSTRAINT {quote(namer(schema, 'ck', (field.name,)))} {enum_check(field, quote(field.name), literal)}"
        for field in schema.fields
        if field.kind is FieldKind.ENUM
    ]


def create_table_sql(
    schema: ModelSchema,
    tables: Mapping[str, ModelSchema],
    *,
    quote: Quote,
    namer: Namer,
    collation: str,
    auto_increment: Callable[[FieldSchema], str],
) -> list[str]:
    check_schema(schema, tables)
    q = quote
    lines = []
    for field in schema.fields:
        if field.auto_increment:
            lines.append(auto_increment(field))
            continue
        column = f"{q(field.name)} {field_column_type(field, schema, tables)}"
        if field.primary_key:
            column += " NOT NULL PRIMARY KEY"
        elif not field.nullable:
            column += " NOT NULL"
        lines.append(column)
    if schema.soft_delete and schema.unique:
        lines.append(live_column(q))
    for group in schema.unique:
        name = namer(schema, "uq", group)
        lines.append(f"UNIQUE KEY {q(name)} ({', '.join(q(c) for c in unique_columns(schema, group))})")
    for group in schema.indexes:
        name = namer(schema, "ix", group)
        parts = []
        for column in group:
            prefix = index_bytes(field_column_type(schema.by_name[column], schema, tables)) is None
            parts.append(f"{q(column)}({KEY_STR_LENGTH})" if prefix else q(column))
        lines.append(f"KEY {q(name)} ({', '.join(parts)})")
    lines += enum_checks(schema, quote=q, namer=namer)
    for field in schema.fields:
        if field.references is not None:
            target = tables[field.references]
            name = namer(schema, "fk", (field.name,))
            reference = f"{q(target.table)} ({q(target.primary_key)})"
            lines.append(f"CONSTRAINT {q(name)} FOREIGN KEY ({q(field.name)}) REFERENCES {reference}")
    return [
        f"CREATE TABLE IF NOT EXISTS {q(schema.table)} (\n  "
        + ",\n  ".join(lines)
        + f"\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={collation}"
    ]
