"""Declaring tenancy: per model, for a whole instance, and what the schema of a tenant-scoped model becomes."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

import pytest
from tenancy_helpers import everything, fails, open_db, run

from dataflow import ConfigError, DataFlow
from dataflow.errors import UniqueViolationError, ValidationError
from dataflow.plugins import plugin_host
from dataflow_tenancy import TENANT_FIELD, Tenancy, enable, tenancy


@pytest.fixture
def plain(tmp_path: Path) -> Any:
    instance = open_db(f"sqlite:///{tmp_path}/plain.db")
    yield instance
    instance.close()


def test_the_plugin_is_found_through_the_entry_point_group(plain: DataFlow) -> None:
    names = [info.name for info in plugin_host().info()]
    assert "tenancy" in names
    assert isinstance(Tenancy.of(plain), Tenancy)
    assert tenancy(plain) is Tenancy.of(plain)
    # The shortcuts users already call, which type checkers do not see (typed code uses Tenancy.of(db)).
    service = Tenancy.of(plain)
    assert operator.attrgetter("tenancy", "tenant", "tenant_admin")(plain) == (service, service.tenant, service.admin)


def test_a_multi_tenant_model_gets_tenant_id_in_every_unique_group(sqlite_db: DataFlow) -> None:
    schema = sqlite_db.schema("Customer")
    field = schema.by_name[TENANT_FIELD]
    assert field.max_length == 64 and not field.nullable and not field.required
    assert schema.unique == ((TENANT_FIELD, "email"),)  # it also serves lookups by tenant
    assert (TENANT_FIELD,) not in schema.indexes
    assert schema.options["multi_tenant"] == "row"


def test_a_model_without_unique_groups_gets_an_index_on_tenant_id(plain: DataFlow) -> None:
    @plain.model
    class Event:
        kind: str
        __dataflow__ = {"multi_tenant": True, "indexes": [("kind",)]}

    assert plain.schema("Event").indexes == ((TENANT_FIELD,), ("kind",))


def test_tenant_id_comes_before_the_managed_columns(sqlite_db: DataFlow) -> None:
    names = [f.name for f in sqlite_db.schema("Invoice").fields]
    assert names.index(TENANT_FIELD) < names.index("created_at")


def test_a_model_without_the_option_is_left_alone(sqlite_db: DataFlow) -> None:
    assert TENANT_FIELD not in sqlite_db.schema("Note").by_name
    assert run(sqlite_db, "NoteCreateNode", {"text": "no tenant needed"})["text"] == "no tenant needed"


def test_two_tenants_can_hold_the_same_unique_value(db: DataFlow) -> None:
    run(db, "CustomerCreateNode", {"name": "Ann", "email": "ann@example.com"}, tenant="acme")
    run(db, "CustomerCreateNode", {"name": "Ann", "email": "ann@example.com"}, tenant="globex")
    assert [r["tenant_id"] for r in everything(db, "Customer")] == ["acme", "globex"]
    error = fails(db, "CustomerCreateNode", {"name": "Ann", "email": "ann@example.com"}, tenant="acme")
    assert isinstance(error, UniqueViolationError)


def test_a_declared_tenant_id_field_is_refused(plain: DataFlow) -> None:
    with pytest.raises(ConfigError, match="kept by dataflow-tenancy"):

        @plain.model
        class Account:
            tenant_id: str
            __dataflow__ = {"multi_tenant": True}


def test_an_unknown_multi_tenant_value_is_refused(plain: DataFlow) -> None:
    with pytest.raises(ConfigError, match="must be True, False, 'row' or 'schema'"):

        @plain.model
        class Account:
            name: str
            __dataflow__ = {"multi_tenant": "rows"}


def test_schema_per_tenant_is_refused_on_sqlite(plain: DataFlow) -> None:
    with pytest.raises(ConfigError, match="needs PostgreSQL or MySQL"):

        @plain.model
        class Account:
            name: str
            __dataflow__ = {"multi_tenant": "schema"}


def test_enable_all_models_scopes_every_model_defined_afterwards(plain: DataFlow) -> None:
    enable(plain, all_models=True)

    @plain.model
    class Account:
        name: str

    @plain.model
    class Country:
        code: str
        __dataflow__ = {"multi_tenant": False}

    assert TENANT_FIELD in plain.schema("Account").by_name
    assert TENANT_FIELD not in plain.schema("Country").by_name
    assert run(plain, "AccountCreateNode", {"name": "x"}, tenant="acme")["tenant_id"] == "acme"
    assert run(plain, "CountryCreateNode", {"code": "NZ"})["code"] == "NZ"


def test_enable_all_models_after_models_are_defined_is_refused(plain: DataFlow) -> None:
    @plain.model
    class Account:
        name: str

    with pytest.raises(ConfigError, match="before the models are defined; already defined: Account"):
        enable(plain, all_models=True)


def test_enable_refuses_a_namespace_prefix_that_is_not_an_identifier(plain: DataFlow) -> None:
    with pytest.raises(ConfigError, match="namespace_prefix"):
        enable(plain, namespace_prefix='t"; drop')


def test_tenancy_is_per_instance(tmp_path: Path) -> None:
    one, two = open_db(f"sqlite:///{tmp_path}/one.db"), open_db(f"sqlite:///{tmp_path}/two.db")
    try:
        enable(one, all_models=True)

        @one.model
        class Account:
            name: str

        @two.model
        class Ledger:
            name: str

        assert TENANT_FIELD in one.schema("Account").by_name
        assert TENANT_FIELD not in two.schema("Ledger").by_name
        with Tenancy.of(one).tenant("acme"):
            pass
        with Tenancy.of(two).tenant("acme"):
            # two's block does not scope one: one still has no tenant.
            assert "no tenant is in context" in str(fails(one, "AccountListNode", {}))
    finally:
        one.close()
        two.close()


def test_tenant_id_cannot_be_required_from_callers_of_create(sqlite_db: DataFlow) -> None:
    # The builder asks connections for required inputs: tenant_id must never be one.
    required = sqlite_db.nodes["CustomerCreateNode"].required_inputs()
    assert TENANT_FIELD not in required
    assert isinstance(fails(sqlite_db, "CustomerCreateNode", {"name": "x", "email": "e"}), ValidationError)
