"""Personal() on every kind of field: sealed in the trail, erased to a value that says nothing; else refused."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import uuid
from typing import Annotated, Any

import pytest
from audit_helpers import open_db
from test_personal import master

from dataflow import DataFlow, MaxLength, Personal
from dataflow.errors import ConfigError
from dataflow_audit import Audit


class Tier(enum.Enum):
    GOLD = "gold"
    SILVER = "silver"


VALUES: dict[str, Any] = {
    "flag": True,
    "score": 3.25,
    "money": decimal.Decimal("12.34"),
    "seen": dt.datetime(2001, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
    "born": dt.date(1983, 4, 5),
    "wakes": dt.time(7, 8, 9),
    "token": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "tier": Tier.SILVER,
    "blob": b"secret-bytes",
    "prefs": {"diet": "secret-diet"},
    "phones": ["secret-phone"],
}
SECRETS = ("12.34", "2001-02-03", "1983-04-05", "07:08:09", "12345678-1234", "secret-diet", "secret-phone", "3.25")


def define_members(db: DataFlow) -> None:
    @db.model
    class Member:
        name: Annotated[str, MaxLength(50)]
        flag: Annotated[bool, Personal()]
        score: Annotated[float, Personal()]
        money: Annotated[decimal.Decimal, Personal()]
        seen: Annotated[dt.datetime, Personal()]
        born: Annotated[dt.date, Personal()]
        wakes: Annotated[dt.time, Personal()]
        token: Annotated[uuid.UUID, Personal()]
        tier: Annotated[Tier, Personal()]
        blob: Annotated[bytes, Personal()]
        prefs: Annotated[dict[str, Any], Personal()]
        phones: Annotated[list[str], Personal()]
        __dataflow__ = {"audit": True, "subject": "id", "unique": [("token",)]}


def test_required_personal_fields_of_every_kind_are_sealed_and_erased(any_database_url: str) -> None:
    db = open_db(any_database_url)
    Audit.of(db).configure(master_key=master())
    try:
        define_members(db)
        ann = db.express_sync.create("Member", {"name": "Ann", **VALUES})
        bo = db.express_sync.create("Member", {"name": "Bo", **VALUES, "token": uuid.uuid4()})
        trail = json.dumps(db.sql("SELECT changes FROM dataflow_audit"))
        assert not [secret for secret in SECRETS if secret in trail]
        (created,) = db.audit.history("Member", ann["id"])
        assert created.changes["prefs"] == [None, {"diet": "secret-diet"}]
        assert created.changes["tier"] == [None, "silver"]
        for member in (ann, bo):  # two erased records keep the unique token column unique
            assert db.gdpr.erase("Member", member["id"]).records == {"Member": 1}
        erased = db.express_sync.read("Member", ann["id"])
        assert erased["name"] == "Ann" and erased["token"] != db.express_sync.read("Member", bo["id"])["token"]
        plain = ("flag", "score", "money", "born", "wakes", "tier", "blob", "prefs", "phones")
        assert {k: erased[k] for k in plain} == {
            "flag": False, "score": 0.0, "money": decimal.Decimal(0), "born": dt.date(1970, 1, 1),
            "wakes": dt.time(0, 0), "tier": Tier.GOLD, "blob": b"", "prefs": {}, "phones": [],
        }  # fmt: skip
        assert erased["seen"] == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        scan = json.dumps([db.sql("SELECT * FROM member"), db.sql("SELECT * FROM dataflow_audit")], default=str)
        assert not [secret for secret in SECRETS if secret in scan]
        assert db.audit.verify().ok
    finally:
        db.close()


def _define(db: DataFlow, where: str) -> None:
    @db.model
    class Account:
        label: Annotated[str, MaxLength(50)]
        __dataflow__ = {"subject": "id"}

    if where == "primary key":

        @db.model
        class Card:
            number: Annotated[str, MaxLength(20), Personal()]
            __dataflow__ = {"primary_key": "number"}

    elif where == "subject field":

        @db.model
        class Person:
            email: Annotated[str, MaxLength(50), Personal()]
            __dataflow__ = {"subject": "email"}

    else:

        @db.model
        class Login:
            account_id: Annotated[Account, Personal()]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("primary key", "Card.number cannot be Personal\\(\\): the primary key names the record"),
        ("subject field", "Person.email cannot be Personal\\(\\): the field that identifies a data subject"),
        ("required foreign key", "Login.account_id cannot be Personal\\(\\): erasure cannot overwrite a required"),
    ],
)
def test_personal_where_erasure_cannot_overwrite_it_is_refused_at_db_model(
    sqlite_url: str, where: str, message: str
) -> None:
    db = open_db(sqlite_url)
    try:
        with pytest.raises(ConfigError, match=message):
            _define(db, where)
    finally:
        db.close()
