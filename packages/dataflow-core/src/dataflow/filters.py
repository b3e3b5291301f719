"""The filter language, compiled to parameterised SQL.

``{"age": {"$gte": 18}, "$or": [{"name": "Ann"}, {"name": {"$like": "B%"}}]}``

Field names are checked against the schema, operators against the table
below, and every value is validated as the field's type and bound as a
parameter. Nothing a caller passes becomes SQL text.

Conditions that are constant by their shape (``{}``, ``{"$and": []}``,
``{"$or": [{}]}``, ``{"$not": {"$or": []}}``, ``{"age": {"$nin": []}}``)
fold to :data:`TRUE` or :data:`FALSE`, so a filter that matches every row
compiles to exactly :data:`TRUE` (see :func:`matches_everything`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from .errors import FilterError, ValidationError
from .fields import FieldSchema
from .filter_operators import FALSE, OPERATORS, TRUE
from .relations import Relation, RelationMap
from .schema import suggest
from .sql import Params, TableSQL

Filter = Mapping[str, Any]

QUANTIFIERS = {"$some": "EXISTS", "$none": "NOT EXISTS"}
# Nesting a filter may reach: each object of conditions is a level, a step through a relation (a subquery)
# four. Within it every backend parses the SQL (SQLite's parser gives up first: past ~45 NOTs or ~9 steps).
MAX_FILTER_DEPTH, RELATION_STEP = 32, 4


class RelatedTables(Protocol):
    """What a filter needs to follow relations: relation names, other models' tables and what each may show."""

    relations: RelationMap

    def table(self, model: str) -> TableSQL: ...

    def scope(self, table: TableSQL) -> Filter | None:
        """The filter every statement on ``table`` must also match (tenancy, soft delete), or None."""
        ...


class FilterCompiler:
    """Compiles one filter over one table; nested compilers handle the tables relations lead to.

    ``qualifier`` is how the table is named in the statement (its alias inside
    a subquery), for the conditions that correlate a subquery with it;
    ``qualify`` names every column with it (a statement that joins tables).
    """

    def __init__(
        self,
        table: TableSQL,
        params: Params,
        related: RelatedTables | None = None,
        qualifier: str | None = None,
        aliases: Iterator[int] | None = None,
        *,
        qualify: bool = False,
        depth: int = 0,
    ) -> None:
        self.table = table
        self.params = params
        self.model = table.schema.name
        self.related = related
        self.qualifier = qualifier or table.table
        self.aliases = aliases if aliases is not None else itertools.count(1)
        self.qualify = qualify
        self.depth = depth

    def error(self, message: str, field: str | None = None) -> FilterError:
        return FilterError(f"{self.model} filter: {message}", model=self.model, field=field)

    def compile(self, node: Any) -> str:
        if not isinstance(node, Mapping):
            raise self.error(f"expected an object of conditions, got {type(node).__name__}")
        if self.depth >= MAX_FILTER_DEPTH:
            raise self.error(
                f"nested more than {MAX_FILTER_DEPTH} levels deep (a relation step counts {RELATION_STEP})"
            )
        self.depth += 1
        try:
            mark = len(self.params.values)
            return self.all_of([self.clause(key, value) for key, value in node.items()], mark)
        finally:
            self.depth -= 1

    def all_of(self, parts: list[str], mark: int) -> str:
        """``parts`` joined by AND, constants folded (see :meth:`joined`)."""
        return self.joined(" AND ", parts, mark, absorbing=FALSE, neutral=TRUE)

    def any_of(self, parts: list[str], mark: int) -> str:
        """``parts`` joined by OR, constants folded (see :meth:`joined`)."""
        return self.joined(" OR ", parts, mark, absorbing=TRUE, neutral=FALSE)

    def joined(self, separator: str, parts: list[str], mark: int, *, absorbing: str, neutral: str) -> str:
        """``parts`` joined by ``separator``, with constant parts folded away.

        ``mark`` is how many parameters were bound before the first part: when
        a constant part decides the whole (FALSE in an AND, TRUE in an OR), the
        other parts' text is dropped, so their parameters must be unbound too.
        """
        if absorbing in parts:
            del self.params.values[mark:]
            return absorbing
        parts = [p for p in parts if p != neutral]
        if not parts:
            return neutral
        return parts[0] if len(parts) == 1 else "(" + separator.join(parts) + ")"

    def clause(self, key: Any, value: Any) -> str:
        if isinstance(key, str) and key.startswith("$"):
            logical = LOGICAL.get(key)
            if logical is None:
                raise self.error(f"unknown operator {key!r}{suggest(key, LOGICAL)}")
            return logical(self, value)
        if isinstance(key, str) and key not in self.table.schema.by_name and self.related is not None:
            head, dot, rest = key.partition(".")
            relation = self.related.relations.get(self.model, head)
            if relation is not None and relation.many:
                return self.quantified(relation, value, dotted=bool(dot))
            if relation is not None:
                return self.through(relation, {rest: value} if dot else value)
        field = self.field(key)
        if isinstance(value, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in value):
            mark = len(self.params.values)
            return self.all_of([self.comparison(field, op, operand) for op, operand in value.items()], mark)
        return self.comparison(field, "$eq", value)

    def field(self, name: Any) -> FieldSchema:
        found = self.table.schema.by_name.get(name) if isinstance(name, str) else None
        if found is None:
            names = [*self.table.schema.by_name, *(self.related.relations.of(self.model) if self.related else ())]
            head = name.partition(".")[0] if isinstance(name, str) else name
            raise self.error(f"unknown field {name!r}{suggest(head, names)}", field=str(name))
        return found

    def column(self, field: FieldSchema) -> str:
        """The SQL that stands for ``field`` in a condition."""
        return self.ref(field.name)

    def ref(self, name: str) -> str:
        quoted = self.table.quoted[name]
        return f"{self.qualifier}.{quoted}" if self.qualify else quoted

    def encode(self, field: FieldSchema, value: Any) -> Any:
        return self.table.encode(field.name, value)

    def comparison(self, field: FieldSchema, op: Any, operand: Any) -> str:
        build = OPERATORS.get(op) if isinstance(op, str) else None
        if build is None:
            raise self.error(f"unknown operator {op!r} on {field.name!r}{suggest(op, OPERATORS)}", field=field.name)
        return build(self, field, self.column(field), operand)

    def bind(self, field: FieldSchema, value: Any) -> str:
        try:
            checked = field.validate(value, self.model) if value is not None else None
        except ValidationError as exc:
            raise FilterError(exc.message, model=self.model, field=field.name) from None
        return self.params.add(self.encode(field, checked))

    def logical_list(self, op: str, value: Any) -> tuple[list[str], int]:
        """The compiled items of ``$and``/``$or``, and the parameter count before them."""
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
            raise self.error(f"{op} takes a list of filters")
        mark = len(self.params.values)
        return [self.compile(item) for item in value], mark

    # -- relations --------------------------------------------------------------

    def path_value(self, name: str, where: str) -> str:
        """``name``'s value for the current row, in its sort order: a field, or a forward path as a subquery."""
        field = self.table.schema.by_name.get(name)
        if field is not None:
            return self.table.dialect.ordered(field, f"{self.qualifier}.{self.table.quoted[name]}")
        head, dot, rest = name.partition(".")
        relation = self.related.relations.get(self.model, head) if self.related is not None else None
        if relation is None or not dot or relation.many:
            names = [*self.table.schema.by_name]
            if self.related is not None:
                names += [f"{r.name}.<field>" for r in self.related.relations.of(self.model).values() if not r.many]
            raise FilterError(
                f"{self.model} {where}: unknown field {name!r}{suggest(head, [n.partition('.')[0] for n in names])}"
                f" (known: {', '.join(names)})",
                model=self.model,
                field=name,
            )
        inner, source = self.nested(relation)
        link = (
            f"{inner.qualifier}.{inner.table.quoted[relation.remote]} = "
            f"{self.qualifier}.{self.table.quoted[relation.local]}"
        )
        value = inner.path_value(rest, where)
        return f"(SELECT {value} FROM {source} WHERE {self.visible(inner, link)})"

    def nested(self, relation: Relation) -> tuple[FilterCompiler, str]:
        """A compiler for the relation's target table under a fresh alias, and its ``FROM`` text."""
        assert self.related is not None
        target = self.related.table(relation.target)
        alias = target.dialect.quote(f"dataflow_r{next(self.aliases)}")
        depth = self.depth + RELATION_STEP - 1  # the inner compile() adds the last level
        inner = FilterCompiler(
            target, self.params, self.related, alias, self.aliases, qualify=self.qualify, depth=depth
        )
        return inner, f"{target.table} AS {alias}"

    def visible(self, compiler: FilterCompiler, condition: str) -> str:
        """``condition`` narrowed to the rows of the related table the session may see."""
        assert self.related is not None
        scope = self.related.scope(compiler.table)
        return condition if scope is None else f"{condition} AND {compiler.compile(scope)}"

    def through(self, relation: Relation, condition_filter: Any) -> str:
        """``{"team.name": ...}`` or ``{"team": {"name": ...}}``: the key is one of the target rows that match."""
        if not isinstance(condition_filter, Mapping) or any(str(k) in QUANTIFIERS for k in condition_filter):
            raise self.error(
                f"{relation.name!r} is one {relation.target}: filter its fields, "
                f'("{relation.name}.<field>": ...) or {{"{relation.name}": {{"<field>": ...}}}}',
                field=relation.name,
            )
        inner, source = self.nested(relation)
        condition = self.visible(inner, inner.compile(condition_filter))
        remote = f"{inner.qualifier}.{inner.table.quoted[relation.remote]}"
        local = self.ref(relation.local)
        member = f"{local} IN (SELECT {remote} FROM {source} WHERE {condition})"
        # Without a related row the condition is false, not unknown, so that $not of it holds.
        return f"({local} IS NOT NULL AND {member})" if self.table.schema.by_name[relation.local].nullable else member

    def quantified(self, relation: Relation, value: Any, *, dotted: bool) -> str:
        """``{"users": {"$some": {...}}}`` / ``"$none"``: some / no related row matches."""
        if dotted or not isinstance(value, Mapping) or len(value) != 1 or next(iter(value)) not in QUANTIFIERS:
            raise self.error(
                f'{relation.name!r} is a list of {relation.target}: filter it with {{"{relation.name}": '
                '{"$some": {...}}} or {"$none": {...}}',
                field=relation.name,
            )
        ((quantifier, condition_filter),) = value.items()
        inner, source = self.nested(relation)
        link = (
            f"{inner.qualifier}.{inner.table.quoted[relation.remote]} = "
            f"{self.qualifier}.{self.table.quoted[relation.local]}"
        )
        condition = self.visible(inner, f"{link} AND {inner.compile(condition_filter)}")
        return f"{QUANTIFIERS[quantifier]} (SELECT 1 FROM {source} WHERE {condition})"


def _and(c: FilterCompiler, value: Any) -> str:
    return c.all_of(*c.logical_list("$and", value))


def _or(c: FilterCompiler, value: Any) -> str:
    return c.any_of(*c.logical_list("$or", value))


NEGATED = {TRUE: FALSE, FALSE: TRUE}


def _not(c: FilterCompiler, value: Any) -> str:
    inner = c.compile(value)
    return NEGATED.get(inner, f"NOT ({inner})")


LOGICAL: dict[str, Callable[[FilterCompiler, Any], str]] = {"$and": _and, "$or": _or, "$not": _not}


def compile_filter(filter: Filter | None, table: TableSQL, params: Params, related: RelatedTables | None = None) -> str:
    """The WHERE condition for ``filter``, its values bound into ``params``.

    With ``related``, keys may follow relations: ``"team.name"`` through a
    forward relation, ``{"users": {"$some": {...}}}`` over a reverse one.
    """
    if filter is None:
        return TRUE
    return FilterCompiler(table, params, related).compile(filter)


def matches_everything(filter: Filter | None, table: TableSQL, related: RelatedTables | None = None) -> bool:
    """Whether ``filter`` matches every row by its shape alone (``None``, ``{}``, ``{"$or": [{}]}``, ...).

    Raises ``FilterError`` for a filter that does not compile, as running it would.
    """
    return compile_filter(filter, table, Params(table.dialect), related) == TRUE


def qualified_filter(
    filter: Filter | None,
    table: TableSQL,
    params: Params,
    related: RelatedTables | None,
    aliases: Iterator[int],
    qualifier: str | None = None,
) -> str:
    """``filter`` with every column named by ``qualifier`` (default: the table), for a statement that joins."""
    if filter is None:
        return TRUE
    return FilterCompiler(table, params, related, qualifier, aliases, qualify=True).compile(filter)
