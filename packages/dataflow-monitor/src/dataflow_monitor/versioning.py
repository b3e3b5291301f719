"""Optimistic locking for models that ask for it: ``__dataflow__ = {"versioned": True}``.

The schema extension adds a ``version`` integer column (1 on insert). The
check itself (``WHERE version = ?`` and ``SET version = version + 1`` in the
UPDATE that Update, Upsert and BulkUpdate build) belongs to the core, which
builds those statements: it honours ``ModelSchema.version_field`` where the
core has it. On a core without it the column is still added and kept, and a
warning says that stale writes are not refused yet.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs

from dataflow import errors
from dataflow.errors import ConfigError, TransactionError
from dataflow.fields import FieldKind, FieldSchema
from dataflow.schema import ModelSchema

log = logging.getLogger("dataflow.monitor")
VERSION_FIELD = "version"


class _ConcurrentUpdateError(TransactionError):
    """A write based on a stale read: the record's version changed since it was read.

    Read the record again (its new ``version``), reapply the change, and write again.
    """


ConcurrentUpdateError: type[TransactionError] = getattr(errors, "ConcurrentUpdateError", _ConcurrentUpdateError)
"""The core's ``ConcurrentUpdateError`` where the core has one, so that ``except`` catches what it raises."""


def core_checks_versions() -> bool:
    """Does the core honour ``ModelSchema.version_field`` in the UPDATEs it builds?"""
    return "version_field" in attrs.fields_dict(ModelSchema)


def add_version_column(schema: ModelSchema) -> ModelSchema:
    """The schema extension: a ``version`` column for versioned models; others unchanged."""
    if not schema.options.get("versioned"):
        return schema
    existing = schema.by_name.get(VERSION_FIELD)
    if existing is not None:
        if existing.kind is not FieldKind.INT or existing.nullable:
            raise ConfigError(
                f"{schema.name}.{VERSION_FIELD} must be a non-null int on a versioned model "
                "(or leave it out: DataFlow adds it)",
                model=schema.name,
                field=VERSION_FIELD,
            )
        fields = tuple(attrs.evolve(f, default=1) if f is existing and not f.has_default else f for f in schema.fields)
    else:
        fields = (*schema.fields, FieldSchema(name=VERSION_FIELD, kind=FieldKind.INT, default=1))
    if core_checks_versions():
        changes: dict[str, Any] = {"fields": fields, "version_field": VERSION_FIELD}
        return attrs.evolve(schema, **changes)
    log.warning(
        "%s is versioned, but this dataflow-core does not check versions in its UPDATEs yet: "
        "the %r column is kept, stale writes are not refused",
        schema.name,
        VERSION_FIELD,
    )
    return attrs.evolve(schema, fields=fields)
