"""``dataflow migrate`` against the real server, through click's runner."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from mysql_helpers import admin_connection

from dataflow.cli import main

MODELS = textwrap.dedent(
    """
    from typing import Annotated

    from dataflow import DataFlow, MaxLength

    # The instance's own database is never used: every command moves it with --database-url.
    db = DataFlow("mysql://root@127.0.0.1:3306/not_this_one", env="production")

    @db.model
    class Item:
        name: str
        {extra}
    """
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATAFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATAFLOW_MODELS", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    forget_models()


def forget_models() -> None:
    for module in [m for m in sys.modules if m.startswith("mysqlmodels")]:
        del sys.modules[module]


def write_models(project: Path, name: str, extra: str = "") -> None:
    (project / f"{name}.py").write_text(MODELS.format(extra=extra))


def invoke(*args: str) -> tuple[int, str]:
    """Run a command in-process, as a fresh process would: the models module is imported anew."""
    forget_models()
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_migrate_status_plan_apply_history(project: Path, dataflow_database_url: str) -> None:
    write_models(project, "mysqlmodels_a", 'note: str | None = None\n    __dataflow__ = {"indexes": [("name",)]}')
    where = ("--models", "mysqlmodels_a:db", "--database-url", dataflow_database_url)
    code, output = invoke("migrate", "status", *where)
    assert code == 1 and "create table item (Item)" in output and "not_this_one" not in output
    code, output = invoke("migrate", "plan", *where)
    assert code == 0 and "CREATE TABLE IF NOT EXISTS `item`" in output and "KEY `ix_item_name` (`name`(255))" in output
    code, output = invoke("migrate", "apply", *where)
    assert code == 0 and "[1/1] create table item (Item)" in output
    code, output = invoke("migrate", "status", *where, "--json")
    assert code == 0 and json.loads(output)["pending"] == [] and json.loads(output)["applied"] == 1
    code, output = invoke("migrate", "history", *where, "--json")
    entries = json.loads(output)
    assert code == 0 and [e["name"] for e in entries] == ["auto [1/1] create table item (Item)"]
    assert len(entries[0]["checksum"]) == 64


def test_destructive_steps_need_the_flag_and_renames_take_a_hint(
    project: Path, dataflow_database_url: str, database_name: str
) -> None:
    write_models(project, "mysqlmodels_b", "note: str | None = None")
    assert invoke("migrate", "apply", "--models", "mysqlmodels_b:db", "--database-url", dataflow_database_url)[0] == 0
    admin = admin_connection(database_name)
    try:
        with admin.cursor() as cursor:
            cursor.execute("INSERT INTO item (name, note) VALUES ('a', 'kept')")
        write_models(project, "mysqlmodels_c", "remark: str | None = None")
        where = ("--models", "mysqlmodels_c:db", "--database-url", dataflow_database_url)
        code, output = invoke("migrate", "plan", *where)
        assert code == 0 and "ALTER TABLE `item` DROP COLUMN `note`;" in output and "DESTRUCTIVE" in output
        code, output = invoke("migrate", "apply", *where)
        assert code == 1 and "destructive" in output and "Item.note=remark" in output
        code, output = invoke("migrate", "apply", *where, "--rename", "Item.note=remark")
        assert code == 0 and "rename column item.note to remark" in output
        with admin.cursor() as cursor:
            cursor.execute("SELECT remark FROM item")
            assert cursor.fetchall() == (("kept",),)
    finally:
        admin.close()


def test_a_narrowing_that_would_lose_data_is_refused_with_the_row_count(
    project: Path, dataflow_database_url: str, database_name: str
) -> None:
    write_models(project, "mysqlmodels_d", "note: str | None = None")
    assert invoke("migrate", "apply", "--models", "mysqlmodels_d:db", "--database-url", dataflow_database_url)[0] == 0
    admin = admin_connection(database_name)
    try:
        with admin.cursor() as cursor:
            cursor.execute("INSERT INTO item (name, note) VALUES ('a', 'far too long'), ('b', 'fits')")
    finally:
        admin.close()
    write_models(project, "mysqlmodels_e", "note: Annotated[str, MaxLength(5)] | None = None")
    where = ("--models", "mysqlmodels_e:db", "--database-url", dataflow_database_url)
    code, output = invoke("migrate", "apply", *where, "--allow-destructive")
    assert code == 1 and "1 existing row(s) would be lost" in output
    code, output = invoke("migrate", "status", *where)
    assert code == 1 and "alter column item.note: type LONGTEXT -> VARCHAR(5) (narrowing)" in output


def test_migration_files_are_written_applied_once_and_guarded_by_checksum(
    project: Path, dataflow_database_url: str, database_name: str
) -> None:
    url = ("--database-url", dataflow_database_url)
    write_models(project, "mysqlmodels_f")
    code, output = invoke("migrate", "make", "create items", "--models", "mysqlmodels_f:db", *url)
    assert code == 0 and "wrote migrations/0001_create_items.py" in output
    text = (project / "migrations" / "0001_create_items.py").read_text()
    assert "DIALECT = 'mysql'" in text and "CREATE TABLE IF NOT EXISTS `item`" in text
    code, output = invoke("migrate", "apply", "--models", "mysqlmodels_f:db", *url, "--directory", "migrations")
    assert code == 0 and "applied 0001_create_items" in output
    admin = admin_connection(database_name)
    try:
        with admin.cursor() as cursor:
            cursor.execute("INSERT INTO item (name) VALUES ('a'), ('b')")
        # A NOT NULL column with a default: its value travels as a parameter of the file's statement.
        write_models(project, "mysqlmodels_g", "score: int = 7")
        assert invoke("migrate", "make", "add score", "--models", "mysqlmodels_g:db", *url)[0] == 0
        second = (project / "migrations" / "0002_add_score.py").read_text()
        assert "ADD COLUMN `score` BIGINT NOT NULL DEFAULT (%s)" in second and "[7]" in second
        code, output = invoke("migrate", "apply", "--models", "mysqlmodels_g:db", *url, "--directory", "migrations")
        assert code == 0 and "applied 0002_add_score" in output
        with admin.cursor() as cursor:
            cursor.execute("SELECT DISTINCT score FROM item")
            assert cursor.fetchall() == ((7,),)
        first = project / "migrations" / "0001_create_items.py"
        first.write_text(first.read_text().replace("CREATE TABLE IF NOT EXISTS", "CREATE TABLE IF NOT EXISTS  "))
        code, output = invoke("migrate", "apply", "--models", "mysqlmodels_g:db", *url, "--directory", "migrations")
        assert code == 1 and "0001_create_items was edited after it was applied" in output
        code, output = invoke("migrate", "status", "--models", "mysqlmodels_g:db", *url)
        assert code == 0 and "up to date" in output
    finally:
        admin.close()
