"""Relations between the models of one DataFlow instance, named from their foreign keys.

A foreign-key field ``team_id: Team | None`` gives ``User`` a forward relation
``team`` (one ``Team`` or none) and ``Team`` a reverse relation ``users`` (a
list of ``User``). Names can be set in ``__dataflow__["relations"]``, keyed by
the foreign-key field: ``{"team_id": "squad"}`` or ``{"team_id": {"name":
"squad", "reverse": "members"}}``. Relations are kept beside the frozen model
schemas, not in them: a reverse relation appears on a model when a later model
refers to it.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from .errors import ConfigError
from .schema import ModelSchema, check_identifier, snake_case, suggest


@attrs.frozen
class Relation:
    """One direction of a foreign key: ``model.name`` leads to ``target`` records.

    Forward (``many=False``): ``model.local`` holds ``target.remote`` (its key).
    Reverse (``many=True``): ``target.remote`` holds ``model.local`` (its key).
    """

    name: str
    model: str
    target: str
    many: bool
    local: str
    remote: str


def plural(name: str) -> str:
    """``User`` -> ``users``, ``Category`` -> ``categories``, ``OrderLine`` -> ``order_lines``."""
    word = snake_case(name)
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def _declared(schema: ModelSchema, field: str) -> tuple[str | None, str | None]:
    """The (forward, reverse) names ``__dataflow__["relations"]`` gives the foreign key ``field``."""
    declared = schema.options.get("relations", {})
    if not isinstance(declared, Mapping):
        raise ConfigError(f"{schema.name}.__dataflow__['relations'] must map foreign-key fields to names")
    entry = declared.get(field)
    if entry is None:
        return None, None
    if isinstance(entry, str):
        return entry, None
    if isinstance(entry, Mapping) and set(entry) <= {"name", "reverse"}:
        return entry.get("name"), entry.get("reverse")
    raise ConfigError(
        f"{schema.name}.__dataflow__['relations'][{field!r}] must be a name or {{'name': ..., 'reverse': ...}}",
        model=schema.name,
        field=field,
    )


class RelationMap:
    """The relations of every model of one instance, by model and relation name."""

    def __init__(self) -> None:
        self._by_model: dict[str, dict[str, Relation]] = {}

    def of(self, model: str) -> Mapping[str, Relation]:
        return self._by_model.get(model, {})

    def get(self, model: str, name: str) -> Relation | None:
        return self._by_model.get(model, {}).get(name)

    def require(self, model: str, name: str, *, what: str = "relation") -> Relation:
        """The relation ``model.name``, or a ``ConfigError`` naming the nearest one."""
        found = self.get(model, name)
        if found is None:
            known = self.of(model)
            listed = f" (it has {', '.join(sorted(known))})" if known else " (it has none)"
            raise ConfigError(f"{model} has no {what} {name!r}{suggest(name, known)}{listed}", model=model)
        return found

    def add(self, schema: ModelSchema, schemas: Mapping[str, ModelSchema]) -> None:
        """Name the relations of a new model's foreign keys; refuse a clash before changing anything."""
        declared = schema.options.get("relations", {})
        for field in declared if isinstance(declared, Mapping) else ():
            if field not in schema.by_name or schema.by_name[field].references is None:
                raise ConfigError(
                    f"{schema.name}.__dataflow__['relations'] names {field!r}, which is not a foreign-key field"
                    f"{suggest(field, [f.name for f in schema.fields if f.references])}",
                    model=schema.name,
                    field=str(field),
                )
        planned: dict[str, dict[str, Relation]] = {schema.name: {}}
        for field in schema.fields:
            if field.references is None:
                continue
            target = schemas[field.references]
            forward, reverse = _declared(schema, field.name)
            if forward is None and field.name.endswith("_id") and len(field.name) > 3:
                forward = field.name[:-3]
            if forward is not None:
                self._plan(
                    planned, schemas, Relation(forward, schema.name, target.name, False, field.name, target.pk.name)
                )
            self._plan(
                planned,
                schemas,
                Relation(
                    reverse or plural(schema.name), target.name, schema.name, True, target.primary_key, field.name
                ),
                explicit=reverse is not None,
            )
        for model, relations in planned.items():
            self._by_model.setdefault(model, {}).update(relations)

    def _plan(
        self,
        planned: dict[str, dict[str, Relation]],
        schemas: Mapping[str, ModelSchema],
        relation: Relation,
        *,
        explicit: bool = True,
    ) -> None:
        model = schemas.get(relation.model)
        check_identifier(relation.name, f"{relation.model} relation name", model=relation.model)
        if model is not None and relation.name in model.by_name:
            raise ConfigError(
                f"{relation.model} relation {relation.name!r} (from {_describe(relation)}) has the name of a field "
                f"of {relation.model}; name it in __dataflow__['relations']",
                model=relation.model,
            )
        existing = planned.setdefault(relation.model, {}).get(relation.name) or self.get(relation.model, relation.name)
        if existing is not None:
            advice = "" if explicit else "; two foreign keys to the same model need their reverse names set"
            raise ConfigError(
                f"{relation.model} relation {relation.name!r} is ambiguous: {_describe(existing)} and "
                f"{_describe(relation)} both claim it; name them in __dataflow__['relations']{advice}",
                model=relation.model,
            )
        planned[relation.model][relation.name] = relation


def _describe(relation: Relation) -> str:
    if relation.many:
        return f"{relation.target}.{relation.remote}"
    return f"{relation.model}.{relation.local}"
