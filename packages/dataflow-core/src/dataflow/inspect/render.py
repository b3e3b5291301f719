"""Live tables as the source text of a Python module of DataFlow models.

Each column becomes a field named exactly as the column (DataFlow's field
names are its column names), typed with the kind its type holds; where the
dialect would spell that kind differently, ``ColumnType`` keeps the live
type, so that the models match the tables and a migration plan is empty.
Anything DataFlow cannot declare is written as a comment naming it, never
guessed.
"""

from __future__ import annotations

import enum
import json
import keyword
import re
import textwrap
from collections.abc import Mapping, Sequence

import attrs

from ..fields import FieldKind, FieldSchema
from ..migrate.editor import SchemaEditor
from ..migrate.live import LiveColumn, LiveTable
from ..schema import IDENTIFIER
from .kinds import guess_kind

_ANNOTATIONS = {
    FieldKind.STR: "str",
    FieldKind.INT: "int",
    FieldKind.FLOAT: "float",
    FieldKind.BOOL: "bool",
    FieldKind.BYTES: "bytes",
    FieldKind.DECIMAL: "decimal.Decimal",
    FieldKind.DATETIME: "datetime.datetime",
    FieldKind.DATE: "datetime.date",
    FieldKind.TIME: "datetime.time",
    FieldKind.UUID: "uuid.UUID",
    FieldKind.JSON: "dict",
}
# Names the generated module itself binds; a class of the same name would shadow them.
_TAKEN = {
    "db",
    "DataFlow",
    "Annotated",
    "ColumnType",
    "MaxLength",
    "annotations",
    "datetime",
    "decimal",
    "enum",
    "uuid",
}
_NUMBER = re.compile(r"^\(?(-?\d+(\.\d+)?)\)?(::[a-z ]+)?$")
_STRING = re.compile(r"^'((?:[^']|'')*)'(::[a-z ]+(\(\d+\))?)?$")


def render_module(tables: Mapping[str, LiveTable], editor: SchemaEditor, dialect: str) -> str:
    """The module: a ``db`` that reads its URL from the environment, then one model class per table."""
    module = _Module(tables, editor)
    return module.render(dialect)


@attrs.define
class _Module:
    tables: Mapping[str, LiveTable]
    editor: SchemaEditor
    imports: set[str] = attrs.field(factory=set)
    dataflow_names: set[str] = attrs.field(factory=lambda: {"DataFlow"})
    classes: dict[str, str] = attrs.field(factory=dict)
    """Table name to class name, for the tables that get a model."""
    keys: dict[str, LiveColumn] = attrs.field(factory=dict)
    """Table name to the column its model is keyed by."""

    def render(self, dialect: str) -> str:
        refused: list[str] = []
        for table in self.tables.values():
            reason = self._refusal(table)
            if reason:
                refused.append(f"table {table.name!r} is not modelled: {reason}")
            else:
                self.classes[table.name] = self._class_name(table.name)
        blocks = [self._model(self.tables[name]) for name in self._ordered()]
        header = [
            f'"""DataFlow models of existing {dialect} tables, written by `dataflow inspectdb`.',
            "",
            "Review them before use. db takes its URL from DATAFLOW_DATABASE_URL (or DATABASE_URL) and is",
            "existing_schema=True: it never creates or alters these tables, and checks them against the models.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
        ]
        stdlib = sorted(f"import {name}" for name in self.imports if name != "Annotated")
        if "Annotated" in self.imports:
            stdlib.append("from typing import Annotated")
        if stdlib:
            header += [*stdlib, ""]
        header += [f"from dataflow import {', '.join(sorted(self.dataflow_names))}", ""]
        header += _comment_lines(refused, "")
        if refused:
            header.append("")
        header.append("db = DataFlow(existing_schema=True)")
        return "\n".join(header) + "\n" + "".join(f"\n\n{block}" for block in blocks)

    # -- tables -------------------------------------------------------------------

    def _refusal(self, table: LiveTable) -> str | None:
        if not IDENTIFIER.match(table.name):
            return "its name is not an identifier DataFlow accepts (letters, digits and '_'); rename the table"
        if not table.columns:
            return "it has no columns"
        key = self._key(table)
        if key is None:
            return "it has no primary key nor a NOT NULL unique column, and every DataFlow model is keyed by one"
        if not _declarable(key.name):
            return f"its key column {key.name!r} is not a Python identifier, so no field can name it"
        self.keys[table.name] = key
        return None

    def _key(self, table: LiveTable) -> LiveColumn | None:
        primary = [c for c in table.columns if c.primary_key]
        if primary:
            return primary[0]
        for index in table.indexes:
            if index.unique and len(index.columns) == 1:
                column = table.column(index.columns[0])
                if column is not None and not column.nullable:
                    return column
        return None

    def _class_name(self, table: str) -> str:
        if table[0].isupper():
            name = table
        else:
            name = "".join(part[:1].upper() + part[1:] for part in table.split("_") if part) or "Table"
        if name in _TAKEN or keyword.iskeyword(name) or not name.isidentifier():
            name += "Table"
        while name in self.classes.values():
            name += "_"
        return name

    def _ordered(self) -> list[str]:
        """Referenced tables first, so that each class can name the ones it references."""
        ordered: dict[str, None] = {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in ordered or name in path:
                return
            for key in self.tables[name].foreign_keys:
                if key.table in self.classes and key.table != name:
                    visit(key.table, (*path, name))
            ordered[name] = None

        for name in self.classes:
            visit(name, ())
        return list(ordered)

    def _model(self, table: LiveTable) -> str:
        class_name = self.classes[table.name]
        key = self.keys[table.name]
        notes: list[str] = []
        enums: list[str] = []
        lines: list[str] = []
        declared: set[str] = set()
        primary = [c.name for c in table.columns if c.primary_key]
        if len(primary) > 1:
            notes.append(
                f"The primary key is composite ({', '.join(primary)}). A DataFlow model is keyed by one column, so "
                f"this one names {key.name}: Read, Update and Delete by key address {key.name} alone, which is not "
                "unique here. Use List, Count, BulkUpdate and BulkDelete with a filter on every key column."
            )
        elif not primary:
            notes.append(f"The table has no primary key; the model is keyed by the unique column {key.name}.")
        for column in table.columns:
            field_lines, enum_block, note = self._field(table, column, class_name, column is key)
            if note:
                lines += _comment_lines([note], "    ")
            if enum_block:
                enums.append(enum_block)
            if field_lines:
                declared.add(column.name)
                lines += field_lines
        options = [f'"table": {_literal(table.name)}', f'"primary_key": {_literal(key.name)}']
        unique: list[str] = []
        indexes: list[str] = []
        for index in sorted(table.indexes, key=lambda i: (not i.unique, i.columns)):
            if any(c not in declared for c in index.columns):
                lines += _comment_lines(
                    [f"index {index.name!r} on {', '.join(index.columns)} is left out: not every column is declared"],
                    "    ",
                )
                continue
            group = "(" + ", ".join(_literal(c) for c in index.columns) + ",)"
            target = unique if index.unique else indexes
            if group not in target:
                target.append(group)
        if unique:
            options.append(f'"unique": [{", ".join(unique)}]')
        if indexes:
            options.append(f'"indexes": [{", ".join(indexes)}]')
        body = [*_comment_lines(notes, "    "), *lines, *_dataflow_option(options)]
        block = ["@db.model", f"class {class_name}:", *body]
        return "".join(f"{e}\n\n\n" for e in enums) + "\n".join(block) + "\n"

    # -- columns ------------------------------------------------------------------

    def _field(
        self, table: LiveTable, column: LiveColumn, class_name: str, is_key: bool
    ) -> tuple[list[str], str | None, str | None]:
        """The field's lines, an Enum class it needs, and a comment; no lines when it cannot be declared."""
        if not _declarable(column.name):
            return (
                [],
                None,
                f"column {column.name!r} ({column.type}) is not declared: its name is not a Python identifier and "
                "DataFlow's field names are its column names; rename the column to model it",
            )
        guessed = guess_kind(column.type)
        if column.enum_values and guessed is not None:
            return self._enum_field(column, class_name, guessed[0])
        if guessed is None:
            return [], None, f"column {column.name!r} has type {column.type}, which DataFlow cannot map; it is left out"
        kind, length = guessed
        reference = self._reference(table, column)
        field = FieldSchema(
            name=column.name,
            kind=kind,
            nullable=column.nullable,
            max_length=length,
            primary_key=is_key,
            references=reference,
        )
        annotation = self.classes[reference] if reference else _ANNOTATIONS[kind]
        if "." in annotation and not reference:
            self.imports.add(annotation.partition(".")[0])
        extras = []
        if length is not None:
            extras.append(f"MaxLength({length})")
            self.dataflow_names.add("MaxLength")
        if not self.editor.same_type(field, column):
            extras.append(f"ColumnType({_literal(column.type)})")
            self.dataflow_names.add("ColumnType")
        return self._declaration(column, annotation, extras, kind, is_key), None, self._key_note(column, is_key, kind)

    def _enum_field(
        self, column: LiveColumn, class_name: str, kind: FieldKind
    ) -> tuple[list[str], str | None, str | None]:
        assert column.enum_values is not None
        numeric = kind is FieldKind.INT and all(re.fullmatch(r"-?\d+", v) for v in column.enum_values)
        values: list[int | str] = [int(v) for v in column.enum_values] if numeric else list(column.enum_values)
        members = _member_names(values)
        enum_name = f"{class_name}{column.name[:1].upper()}{column.name[1:]}"
        enum_type = enum.Enum(enum_name, dict(zip(members, values, strict=True)))  # type: ignore[misc]
        field = FieldSchema(name=column.name, kind=FieldKind.ENUM, nullable=column.nullable, enum_type=enum_type)
        self.imports.add("enum")
        extras = []
        if not self.editor.same_type(field, column):
            extras.append(f"ColumnType({_literal(column.type)})")
            self.dataflow_names.add("ColumnType")
        block = [
            f"class {enum_name}(enum.Enum):",
            f'    """The values the CHECK on {column.name} admits."""',
            "",
            *(
                f"    {member} = {_literal(v) if isinstance(v, str) else v}"
                for member, v in zip(members, values, strict=True)
            ),
        ]
        by_value = {str(value): f"{enum_name}.{member}" for member, value in zip(members, values, strict=True)}
        lines = self._declaration(column, enum_name, extras, FieldKind.ENUM, False, enum_members=by_value)
        return lines, "\n".join(block), None

    def _reference(self, table: LiveTable, column: LiveColumn) -> str | None:
        """The table a one-column foreign key on ``column`` references, when that table's model is keyed by it."""
        for key in table.foreign_keys:
            known = key.columns == (column.name,) and key.table in self.classes
            if known and key.ref_columns == (self.keys[key.table].name,):
                return key.table
        return None

    def _declaration(
        self,
        column: LiveColumn,
        annotation: str,
        extras: Sequence[str],
        kind: FieldKind,
        is_key: bool,
        enum_members: Mapping[str, str] | None = None,
    ) -> list[str]:
        if extras:
            self.imports.add("Annotated")
            annotation = f"Annotated[{annotation}, {', '.join(extras)}]"
        if column.nullable:
            annotation += " | None"
        default, note = _default(column, kind, enum_members or {})
        lines = _comment_lines([note], "    ") if note else []
        if default is None and column.nullable and not is_key:
            default = "None"
        line = f"    {column.name}: {annotation}" + (f" = {default}" if default is not None else "")
        return [*lines, line]

    def _key_note(self, column: LiveColumn, is_key: bool, kind: FieldKind) -> str | None:
        if is_key and kind is FieldKind.INT and not column.auto_increment:
            return (
                f"{column.name} is not numbered by the database: pass it on Create "
                "(DataFlow treats an int key without a default as auto-numbered)"
            )
        return None


def _literal(text: str) -> str:
    """A double-quoted Python string literal (as ruff format writes them); JSON's escapes are Python's too."""
    return json.dumps(text)


def _declarable(name: str) -> bool:
    return bool(IDENTIFIER.match(name)) and not keyword.iskeyword(name) and not name.startswith("_")


def _member_names(values: Sequence[object]) -> list[str]:
    names: list[str] = []
    for position, value in enumerate(values):
        name = re.sub(r"\W+", "_", str(value)).strip("_").upper()
        if not name or not name.isidentifier() or keyword.iskeyword(name) or name in names or name[0] == "_":
            name = f"VALUE_{position}"
        names.append(name)
    return names


def _default(column: LiveColumn, kind: FieldKind, enum_members: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The Python default mirroring the server default, or a comment saying why none is written."""
    text = column.default
    if text is None or column.auto_increment:
        return None, None
    if text.strip().upper() == "NULL" or text.startswith("NULL::"):
        return None, None
    number, string = _NUMBER.match(text.strip()), _STRING.match(text.strip())
    value: str | None = None
    if kind is FieldKind.INT and number and number[2] is None:
        value = number[1]
    elif kind is FieldKind.FLOAT and number:
        value = repr(float(number[1]))
    elif kind is FieldKind.DECIMAL and (number or string):
        value = f"decimal.Decimal({_literal(number[1] if number else string[1] if string else '')})"
    elif kind is FieldKind.BOOL and text.strip().lower() in ("true", "false", "1", "0", "'1'", "'0'"):
        value = "True" if text.strip().strip("'").lower() in ("true", "1") else "False"
    elif kind is FieldKind.STR and string:
        value = _literal(string[1].replace("''", "'"))
    elif kind is FieldKind.ENUM and (string or number):
        value = enum_members.get(string[1].replace("''", "'") if string else number[1] if number else "")
    if value is None:
        return None, f"server default {text} is not mirrored: Create sends a value (or NULL) unless you give one"
    return value, None


def _dataflow_option(options: Sequence[str]) -> list[str]:
    single = "    __dataflow__ = {" + ", ".join(options) + "}"
    if len(single) <= 120:
        return [single]
    return ["    __dataflow__ = {", *(f"        {option}," for option in options), "    }"]


def _comment_lines(notes: Sequence[str], indent: str) -> list[str]:
    lines: list[str] = []
    for note in notes:
        lines += textwrap.wrap(
            note, width=116 - len(indent), initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# "
        )
    return lines
