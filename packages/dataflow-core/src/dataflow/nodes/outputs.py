"""What a node's output looks like before it runs, so ``build()`` can check the paths read from it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from ..fields import FieldKind
from ..schema import ModelSchema


@attrs.frozen
class Keys:
    """An object with known keys; ``fields`` maps each key to the shape of its value."""

    fields: Mapping[str, Shape]


@attrs.frozen
class Items:
    """A list whose items all have the shape ``item``."""

    item: Shape


@attrs.frozen
class Scalar:
    """A plain value (a number, a string, a bool): nothing to walk into."""


@attrs.frozen
class Unknown:
    """A value whose shape only the run will tell: a JSON field, the output of most plugin nodes."""


Shape = Keys | Items | Scalar | Unknown

SCALAR, UNKNOWN = Scalar(), Unknown()


@attrs.frozen
class PathProblem:
    """Where a path leaves a shape: ``parts[:depth]`` exists, ``parts[depth]`` does not."""

    depth: int
    options: tuple[str, ...]
    """The keys that exist at that depth (none under a plain value)."""


def find_problem(shape: Shape, parts: tuple[str, ...]) -> PathProblem | None:
    """The first part of ``parts`` that ``shape`` does not have, or None when the path may exist.

    A list index is never a problem here: whether a list is long enough is
    known only when the node has run.
    """
    for depth, part in enumerate(parts):
        if isinstance(shape, Unknown):
            return None
        if isinstance(shape, Keys):
            if part not in shape.fields:
                return PathProblem(depth, tuple(shape.fields))
            shape = shape.fields[part]
        elif isinstance(shape, Items) and part.lstrip("-").isdigit():
            shape = shape.item
        else:
            return PathProblem(depth, ())
    return None


def record_shape(schema: ModelSchema, relations: Iterable[str] = ()) -> Keys:
    """A record of ``schema``: its fields, JSON ones of unknown shape.

    ``relations`` are the names an ``include`` may attach related records under
    (their shape is the run's to tell: one record, a list, or nested includes).
    """
    fields: dict[str, Shape] = {f.name: UNKNOWN if f.kind is FieldKind.JSON else SCALAR for f in schema.fields}
    return Keys({**fields, **dict.fromkeys(relations, UNKNOWN)})


def counts(*names: str) -> Keys:
    """An output of plain counts and flags: ``{"deleted": n}``, ``{"inserted": a, "updated": b}``."""
    return Keys(dict.fromkeys(names, SCALAR))
