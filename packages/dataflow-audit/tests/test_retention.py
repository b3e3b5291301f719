"""Retention rules: checked when the model is defined, applied in batches, resumable, dry run counts only."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path
from typing import Annotated

import pytest
from audit_helpers import open_db
from test_gdpr import _customer_with_orders
from test_personal import EMAIL, master, open_customers

from dataflow import DataFlow, MaxLength, Personal
from dataflow.errors import ConfigError
from dataflow.testing.processes import DATAFLOW_CLI

HERE = Path(__file__).resolve().parent
OLD = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def define_visits(db: DataFlow, action: str = "delete") -> None:
    @db.model
    class Visit:
        ip: Annotated[str, MaxLength(60), Personal()]
        seen_at: dt.datetime
        __dataflow__ = {"audit": True, "retention": {"field": "seen_at", "days": 30, "action": action}}


def _visits(db: DataFlow, old: int, new: int) -> None:
    now = dt.datetime.now(dt.UTC)
    rows = [{"ip": f"10.0.0.{i}", "seen_at": OLD} for i in range(old)]
    rows += [{"ip": f"10.1.0.{i}", "seen_at": now} for i in range(new)]
    db.express_sync.bulk_create("Visit", rows)


def test_retention_deletes_in_batches_and_a_dry_run_only_counts(any_database_url: str) -> None:
    db = open_db(any_database_url)
    try:
        define_visits(db)
        _visits(db, old=7, new=3)
        (dry,) = db.gdpr.retention(dry_run=True)
        assert (dry.model, dry.due, dry.done) == ("Visit", 7, 0)
        assert db.express_sync.count("Visit") == {"count": 10}
        (done,) = db.gdpr.retention(batch=3)
        assert (done.due, done.done, done.action) == (7, 7, "delete")
        assert db.express_sync.count("Visit") == {"count": 3}
        (again,) = db.gdpr.retention()
        assert (again.due, again.done) == (0, 0)
    finally:
        db.close()


def test_retention_can_anonymize_instead(sqlite_url: str) -> None:
    db = open_db(sqlite_url)
    try:
        define_visits(db, action="anonymize")
        _visits(db, old=2, new=1)
        (done,) = db.gdpr.retention()
        assert done.done == 2
        ips = sorted(r["ip"] for r in db.express_sync.list("Visit")["records"])
        assert ips[0] == "10.1.0.0" and ips[1].startswith("erased-visit-") and ips[2].startswith("erased-visit-")
    finally:
        db.close()


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"field": "ip", "days": 30}, "field 'ip' is str, not a datetime"),
        ({"field": "seen", "days": 30}, "names 'seen', which is not a field; did you mean 'seen_at'"),
        ({"field": "seen_at", "days": 0}, "'days' must be a positive whole number"),
        ({"field": "seen_at", "days": 3, "action": "archive"}, "'action' must be 'delete' or 'anonymize'"),
    ],
)
def test_a_bad_retention_rule_is_refused_when_the_model_is_defined(
    sqlite_url: str, rule: dict[str, object], message: str
) -> None:
    db = open_db(sqlite_url)
    try:
        with pytest.raises(ConfigError, match=message):

            @db.model
            class Visit:
                ip: str
                seen_at: dt.datetime
                __dataflow__ = {"retention": rule}

    finally:
        db.close()


def test_the_gdpr_commands_export_a_subject_and_apply_retention(sqlite_url: str, tmp_path: Path) -> None:
    key = master()
    db = open_customers(sqlite_url, key)
    ann = _customer_with_orders(db)
    db.close()
    (tmp_path / "gdpr_app.py").write_text(
        "import os\nfrom test_personal import open_customers\n"
        "db = open_customers(os.environ['DATAFLOW_DATABASE_URL'], os.environ['KEY'])\n"
    )
    env = {**os.environ, "DATAFLOW_DATABASE_URL": sqlite_url, "KEY": key, "PYTHONPATH": str(HERE)}

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DATAFLOW_CLI, "gdpr", *args, "--models", "gdpr_app:db"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    exported = command("export", "--subject", f"Customer:{ann}")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["subject"]["record"]["email"] == f"moved.{EMAIL}"
    missing = command("export", "--subject", "Customer:999")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert "no model has a retention rule" in command("retention", "--dry-run").stdout
