"""Hidden fields across relations: what a response may show, and what a query may name, model by model.

A model's ``hidden`` fields never leave the gateway: not in its own records,
not in records another model's route includes (``GET /api/books?include=author``
must not show the author's ``password_hash``), and not named by a filter, an
order, a group or an include option that reaches them through a relation
(``{"author.password_hash": ...}``), since a filter on a hidden value is an
oracle for it. A name that reaches a hidden field is refused as unknown, as on
the model's own route.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dataflow.relations import RelationMap

from .problems import Problem

# Operators whose operand is again a filter of the same model (not a value).
_NESTED = frozenset({"$and", "$or", "$not", "$some", "$none"})


class Hiding:
    """The hidden fields of every exposed model, applied along the instance's relations."""

    def __init__(self, relations: RelationMap, hidden: Mapping[str, Iterable[str]]) -> None:
        self.relations = relations
        self.hidden = {model: frozenset(names) for model, names in hidden.items()}

    def shown(self, model: str, record: Any) -> Any:
        """``record`` (or a list of them) without hidden fields, included records too, at any depth."""
        if isinstance(record, list):
            return [self.shown(model, item) for item in record]
        if not isinstance(record, dict):
            return record
        hidden = self.hidden.get(model, frozenset())
        shown: dict[str, Any] = {}
        for key, value in record.items():
            relation = self.relations.get(model, key)
            if relation is not None:  # an included record, or a list of them
                shown[key] = self.shown(relation.target, value)
            elif key not in hidden:
                shown[key] = value
        return shown

    def refuse_path(self, model: str, path: Any, where: str) -> None:
        """A field name or dotted path (``author.password_hash``) that reaches a hidden field is a 400."""
        if not isinstance(path, str):
            return
        self._walk(model, path, where)

    def refuse_filter(self, model: str, filter: Any, where: str = "filter") -> None:
        """Every key of a filter, through relations, ``$some`` and ``$none`` included."""
        if isinstance(filter, list):
            for item in filter:
                self.refuse_filter(model, item, where)
            return
        if not isinstance(filter, Mapping):
            return
        for key, value in filter.items():
            if not isinstance(key, str):
                continue
            if key.startswith("$"):
                if key in _NESTED:
                    self.refuse_filter(model, value, where)
                continue
            target = self._walk(model, key, where)
            if target is not None:  # the key ends on a relation: its value filters the related model
                self.refuse_filter(target, value, where)

    def refuse_include(self, model: str, include: Any, where: str = "include") -> None:
        """The options of an ``include`` (``fields``, ``order_by``, ``filter``, nested ``include``)."""
        if not isinstance(include, Mapping):
            return  # relation names alone reach no field; what they load is stripped by shown()
        for name, options in include.items():
            target = self._walk(model, name, where) if isinstance(name, str) else None
            if target is None or not isinstance(options, Mapping):
                continue
            for option in ("fields", "order_by"):
                for field in options.get(option) or ():
                    if isinstance(field, str):
                        self._walk(target, field.lstrip("-+"), f"{where}.{name}.{option}")
            self.refuse_filter(target, options.get("filter"), f"{where}.{name}.filter")
            self.refuse_include(target, options.get("include"), f"{where}.{name}.include")

    def _walk(self, model: str, path: str, where: str) -> str | None:
        """Follow ``path`` from ``model``; refuse a hidden step; the model it ends on if it ends on a relation."""
        current: str | None = model
        for part in path.split("."):
            if current is None:
                return None
            if part in self.hidden.get(current, frozenset()):
                raise Problem(400, f"{where}: unknown field {path!r}")
            relation = self.relations.get(current, part)
            current = relation.target if relation is not None else None
        return current
