"""Issue 16's bad input, the cases the other files leave out: each a clear outcome, nothing changed by a refusal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import pytest
from audit_helpers import open_db, people, run_node
from test_chain import _command
from test_gdpr import _customer_with_orders, _everything
from test_personal import master, open_customers

from dataflow import DataFlow, MaxLength
from dataflow.errors import ConfigError, NotFoundError


@pytest.fixture
def shop(any_database_url: str) -> DataFlow:
    db = open_customers(any_database_url, master())
    yield db  # type: ignore[misc]
    db.close()


@pytest.mark.parametrize("mode", ["anonymize", "delete"])
def test_erasing_a_missing_subject_in_either_mode_changes_nothing(shop: DataFlow, mode: str) -> None:
    _customer_with_orders(shop)
    before = _everything(shop)
    with pytest.raises(NotFoundError, match="data subject Customer 999 does not exist; nothing was changed"):
        shop.gdpr.erase("Customer", 999, mode=mode)
    assert _everything(shop) == before


def test_a_second_erasure_after_deleting_is_a_no_op_that_says_so(shop: DataFlow) -> None:
    ann = _customer_with_orders(shop)
    assert shop.gdpr.erase("Customer", ann, mode="delete").records == {"Order": 2, "Customer": 1}
    before = _everything(shop)
    again = shop.gdpr.erase("Customer", ann, mode="delete")
    assert again.already_erased and again.mode == "delete" and again.records == {}
    with pytest.raises(NotFoundError, match="does not exist"):
        shop.gdpr.export("Customer", ann)  # deleted: there is nothing left to export
    assert _everything(shop) == before


@pytest.mark.parametrize(("kind", "type_name"), [(int, "int"), (bool, "bool"), (dt.time, "time"), (str | None, "str")])
def test_a_retention_rule_on_a_field_that_is_not_a_datetime_is_refused(
    sqlite_url: str, kind: object, type_name: str
) -> None:
    db = open_db(sqlite_url)
    try:
        # Built with type(): the field's type is a parameter, which a class body's (string) annotation cannot name.
        visit = type("Visit", (), {"__annotations__": {"kept": kind},
                                   "__dataflow__": {"retention": {"field": "kept", "days": 30}}})  # fmt: skip
        with pytest.raises(ConfigError, match=f"field 'kept' is {type_name}.*, not a datetime") as refused:
            db.model(visit)

        assert (refused.value.model, refused.value.field) == ("Visit", "retention")
        assert "Visit" not in db.schemas
    finally:
        db.close()


def test_a_retention_rule_on_a_date_field_applies(any_database_url: str) -> None:
    db = open_db(any_database_url)
    try:

        @db.model
        class Pass:
            holder: Annotated[str, MaxLength(50)]
            issued: dt.date
            __dataflow__ = {"retention": {"field": "issued", "days": 10, "action": "delete"}}

        today = dt.datetime.now(dt.UTC).date()
        db.express_sync.bulk_create("Pass", [{"holder": "old", "issued": today - dt.timedelta(days=30)},
                                             {"holder": "new", "issued": today}])  # fmt: skip
        (done,) = db.gdpr.retention()
        assert (done.model, done.due, done.done) == ("Pass", 1, 1)
        assert [p["holder"] for p in db.express_sync.list("Pass")["records"]] == ["new"]
    finally:
        db.close()


def test_verify_of_an_instance_without_audited_models_is_an_empty_trail(sqlite_url: str) -> None:
    db = open_db(sqlite_url)
    try:

        @db.model
        class Tag:
            label: Annotated[str, MaxLength(50)]

        db.express_sync.create("Tag", {"label": "x"})
        result = db.audit.verify()
        assert result.ok and (result.entries, result.chains) == (0, 0)
        assert str(result) == "audit trail is empty: nothing to verify"
    finally:
        db.close()


def test_the_verify_command_on_an_empty_trail_succeeds_and_says_so(sqlite_db: DataFlow, tmp_path: Path) -> None:
    sqlite_db.audit.verify()  # the tables exist
    empty = _command(tmp_path, sqlite_db.label, "verify")
    assert empty.returncode == 0 and "audit trail is empty: nothing to verify" in empty.stdout, empty.stderr


def test_a_trail_emptied_by_hand_fails_against_its_checkpoint(sqlite_db: DataFlow) -> None:
    run_node(sqlite_db, "UserBulkCreateNode", {"data": people(3)})
    sqlite_db.sql("DELETE FROM dataflow_audit")
    result = sqlite_db.audit.verify()
    assert not result.ok and result.bad is not None
    assert "the chain ends at seq 0 but its checkpointed head is seq 1" in result.bad.problem
