"""Personal data: never in logs, metrics, spans, slow-query records or errors; sealed per subject in the trail."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import logging
import secrets
from pathlib import Path
from typing import Annotated, Any

import pytest
from audit_helpers import open_db, run_node

from dataflow import DataFlow, LocalRuntime, MaxLength, Personal, WorkflowBuilder
from dataflow.errors import ConfigError, UniqueViolationError, ValidationError, WorkflowError
from dataflow_audit import Audit
from dataflow_audit.sealing import AuditKeyError, destroy_key

EMAIL = "ann.secret@example.com"
PHONE = 4915550123
BORN = dt.date(1983, 4, 5)


def master() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def define_customers(db: DataFlow) -> None:
    @db.model
    class Customer:
        name: Annotated[str, MaxLength(100)]
        email: Annotated[str, MaxLength(200), Personal()]
        phone: Annotated[int, Personal()] = 0
        born: Annotated[dt.date | None, Personal()] = None
        __dataflow__ = {"audit": True, "subject": "id", "unique": [("email",)]}

    @db.model
    class Order:
        customer_id: Customer
        note: Annotated[str, Personal()] = ""
        total: int = 0
        __dataflow__ = {"audit": True}


def open_customers(url: str, key: str | None = None, **options: Any) -> DataFlow:
    db = open_db(url, **options)
    if key is not None:
        Audit.of(db).configure(master_key=key)
    define_customers(db)
    return db


def _raw_trail(db: DataFlow) -> str:
    return json.dumps(db.sql("SELECT * FROM dataflow_audit") + db.sql("SELECT * FROM dataflow_audit_key"), default=str)


def test_personal_values_are_sealed_in_the_trail_and_opened_in_history(any_database_url: str) -> None:
    db = open_customers(any_database_url, master())
    try:
        ann = run_node(db, "CustomerCreateNode", {"name": "Ann", "email": EMAIL, "phone": PHONE, "born": BORN})
        run_node(db, "OrderCreateNode", {"customer_id": ann["id"], "note": "leave at the door", "total": 5})
        raw = _raw_trail(db)
        for secret in (EMAIL, str(PHONE), BORN.isoformat(), "leave at the door"):
            assert secret not in raw
        (created,) = db.audit.history("Customer", ann["id"])
        assert created.changes["email"] == [None, EMAIL] and created.changes["phone"] == [None, PHONE]
        assert created.changes["born"] == [None, BORN.isoformat()] and created.changes["name"] == [None, "Ann"]
        subjects = {row["subject"] for row in db.sql("SELECT subject FROM dataflow_audit_key")}
        assert subjects == {f"Customer:{ann['id']}"}  # the order's note is sealed under its customer's key
        assert db.audit.verify().ok
    finally:
        db.close()


def test_a_wrong_master_key_refuses_to_open_values(sqlite_url: str) -> None:
    writer = open_customers(sqlite_url, master())
    ann = run_node(writer, "CustomerCreateNode", {"name": "Ann", "email": EMAIL})
    writer.close()
    reader = open_customers(sqlite_url, master())
    try:
        with pytest.raises(AuditKeyError, match="not the key the trail was written with"):
            reader.audit.history("Customer", ann["id"])
    finally:
        reader.close()


def test_a_destroyed_subject_key_leaves_the_chain_verifiable_and_the_values_unreadable(sqlite_url: str) -> None:
    db = open_customers(sqlite_url, master())
    try:
        ann = run_node(db, "CustomerCreateNode", {"name": "Ann", "email": EMAIL})

        async def shred() -> int:
            async with db.standalone_session() as session, session.atomic():
                return await destroy_key(session, Audit.of(db).keys, f"Customer:{ann['id']}")

        assert asyncio.run(shred()) == 1
        (created,) = db.audit.history("Customer", ann["id"])
        assert created.changes["email"] == [None, None] and created.changes["name"] == [None, "Ann"]
        assert db.audit.verify().ok
    finally:
        db.close()


def test_production_without_a_master_key_refuses_audited_personal_fields(sqlite_url: str) -> None:
    db = DataFlow(sqlite_url, env="production")
    try:
        with pytest.raises(ConfigError, match="DATAFLOW_AUDIT_MASTER_KEY"):
            define_customers(db)
        assert "Customer" not in db.schemas
    finally:
        db.close()


def test_a_malformed_master_key_is_named(sqlite_url: str) -> None:
    db = open_db(sqlite_url)
    try:
        with pytest.raises(ConfigError, match="master_key must be 32 bytes in base64"):
            Audit.of(db).configure(master_key="not-a-key")
    finally:
        db.close()


def test_errors_never_show_a_personal_value(sqlite_url: str) -> None:
    db = open_customers(sqlite_url, master())
    try:
        with pytest.raises(WorkflowError) as too_long:
            run_node(db, "CustomerCreateNode", {"name": "Ann", "email": EMAIL * 20})
        with pytest.raises(WorkflowError) as wrong_type:
            run_node(db, "CustomerCreateNode", {"name": "Ann", "email": EMAIL, "phone": f"tel {PHONE}"})
        run_node(db, "CustomerCreateNode", {"name": "Ann", "email": EMAIL})
        with pytest.raises(WorkflowError) as duplicate:
            run_node(db, "CustomerCreateNode", {"name": "Bo", "email": EMAIL})
        assert isinstance(too_long.value.cause, ValidationError) and too_long.value.cause.field == "email"
        assert isinstance(wrong_type.value.cause, ValidationError) and wrong_type.value.cause.field == "phone"
        assert isinstance(duplicate.value.cause, UniqueViolationError)
        for error in (too_long.value, wrong_type.value, duplicate.value):
            text = f"{error} {error.cause!r}"
            assert EMAIL not in text and str(PHONE) not in text, text
    finally:
        db.close()


def test_no_personal_value_reaches_logs_metrics_spans_or_slow_query_records(
    any_database_url: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk is not installed")
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415 - optional: imported after importorskip
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: PLC0415 - optional: imported after importorskip
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: PLC0415 - optional: imported after importorskip

    from dataflow_monitor import Monitor  # noqa: PLC0415 - optional: imported after importorskip

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    caplog.set_level(logging.DEBUG, logger="dataflow")
    db = open_customers(any_database_url, master(), echo=True)
    try:
        Monitor.of(db).configure(slow_query_seconds=0.0, tracer_provider=provider)
        ann = run_node(db, "CustomerCreateNode", {"name": "Ann", "email": EMAIL, "phone": PHONE})
        run_node(db, "CustomerUpdateNode", {"id": ann["id"], "fields": {"email": f"new.{EMAIL}"}})
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["CustomerListNode"], "list", {"filter": {"email": f"new.{EMAIL}"}})
        results, _ = LocalRuntime().execute(workflow.build())
        assert results["list"]["count"] == 1
        db.audit.history("Customer", ann["id"])
        seen = {
            "metrics": json.dumps(Monitor.of(db).snapshot(top=1000), default=str),
            "slow-query records": repr([entry.as_dict() for entry in Monitor.of(db).slow.entries]),
            "spans": repr([dict(span.attributes or {}) for span in exporter.get_finished_spans()]),
            "logs": "\n".join(record.getMessage() for record in caplog.records),
            "stderr": capsys.readouterr().err,
        }
        assert "INSERT INTO" in seen["spans"] and "INSERT INTO" in seen["slow-query records"]
        for where, text in seen.items():
            assert EMAIL not in text and str(PHONE) not in text, f"a personal value reached the {where}"
    finally:
        db.close()
