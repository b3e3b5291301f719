"""The dataflow command: through click's runner, and as a real subprocess."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataflow.cli import main

MODELS = textwrap.dedent(
    """
    from dataflow import DataFlow

    db = DataFlow("sqlite:///app.db")

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
    for module in [m for m in sys.modules if m.startswith("appmodels")]:
        del sys.modules[module]


def write_models(project: Path, name: str, extra: str = "") -> None:
    (project / f"{name}.py").write_text(MODELS.format(extra=extra))


def invoke(*args: str) -> tuple[int, str]:
    """Run a command in-process, as a fresh process would: the models module is imported anew."""
    for module in [m for m in sys.modules if m.startswith("appmodels")]:
        del sys.modules[module]
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def cli(*args: str, cwd: Path, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``dataflow ARGS`` as a real process."""
    command = [sys.executable, "-c", "from dataflow.cli import run; run()", *args]
    return subprocess.run(
        command, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_migrate_status_plan_apply_history(project: Path) -> None:
    write_models(project, "appmodels_a")
    code, output = invoke("migrate", "status", "--models", "appmodels_a:db")
    assert code == 1 and "create table item (Item)" in output
    code, output = invoke("migrate", "plan", "--models", "appmodels_a:db")
    assert code == 0 and 'CREATE TABLE IF NOT EXISTS "item"' in output
    code, output = invoke("migrate", "apply", "--models", "appmodels_a:db")
    assert code == 0 and "[1/1] create table item (Item)" in output
    code, output = invoke("migrate", "status", "--models", "appmodels_a:db", "--json")
    assert code == 0 and json.loads(output)["pending"] == [] and json.loads(output)["applied"] == 1
    code, output = invoke("migrate", "history", "--models", "appmodels_a:db", "--json")
    assert code == 0 and [e["name"] for e in json.loads(output)] == ["auto"]


def test_destructive_steps_need_the_flag_and_renames_take_a_hint(project: Path) -> None:
    write_models(project, "appmodels_b", "note: str | None = None")
    assert invoke("migrate", "apply", "--models", "appmodels_b:db")[0] == 0
    with sqlite3.connect(project / "app.db") as raw:
        raw.execute("INSERT INTO item (name, note) VALUES ('a', 'kept')")
    write_models(project, "appmodels_c", "remark: str | None = None")
    code, output = invoke("migrate", "apply", "--models", "appmodels_c:db")
    assert code == 1 and "destructive" in output and "Item.note=remark" in output
    code, output = invoke("migrate", "apply", "--models", "appmodels_c:db", "--rename", "Item.note=remark")
    assert code == 0 and "rename column item.note to remark" in output
    with sqlite3.connect(project / "app.db") as raw:
        assert raw.execute("SELECT remark FROM item").fetchall() == [("kept",)]


def test_database_url_moves_the_models_to_another_database(project: Path) -> None:
    write_models(project, "appmodels_d")
    other = project / "other.db"
    code, _ = invoke("migrate", "apply", "--models", "appmodels_d:db", "--database-url", f"sqlite:///{other}")
    assert code == 0
    with sqlite3.connect(other) as raw:
        assert raw.execute("SELECT name FROM sqlite_master WHERE name = 'item'").fetchall() == [("item",)]
    assert not (project / "app.db").exists()


def test_a_models_module_that_does_not_import(project: Path) -> None:
    (project / "appmodels_broken.py").write_text("import nothing_here_at_all\n")
    code, output = invoke("migrate", "status", "--models", "appmodels_broken:db")
    assert code == 1 and "cannot import 'appmodels_broken'" in output and "nothing_here_at_all" in output


def test_a_models_path_without_a_dataflow(project: Path) -> None:
    (project / "appmodels_e.py").write_text("db = 42\n")
    code, output = invoke("migrate", "status", "--models", "appmodels_e:db")
    assert code == 1 and "is int, not a DataFlow instance" in output
    code, output = invoke("migrate", "status", "--models", "appmodels_e")
    assert code == 2 and "module:attribute" in output


def test_a_models_attribute_that_is_missing_is_named_with_what_the_module_has(project: Path) -> None:
    write_models(project, "appmodels_j")
    code, output = invoke("migrate", "status", "--models", "appmodels_j:dbb")
    assert code == 1
    assert "appmodels_j has no attribute 'dbb'; did you mean 'db'?; its DataFlow instances: db" in output
    assert "nothing" not in output
    (project / "appmodels_k.py").write_text("settings = {}\n")
    code, output = invoke("migrate", "status", "--models", "appmodels_k:db")
    assert code == 1 and "appmodels_k has no attribute 'db'" in output
    assert "appmodels_k defines no DataFlow instance" in output


def test_a_models_module_that_does_not_exist_is_one_line(project: Path) -> None:
    code, output = invoke("migrate", "status", "--models", "appmodels_nowhere:db")
    assert code == 1 and "Traceback" not in output and len(output.strip().splitlines()) == 1
    assert (
        "cannot import 'appmodels_nowhere': there is no module 'appmodels_nowhere' in the working directory" in output
    )


def test_doctor_without_models_checks_the_database_and_says_what_needs_them(project: Path) -> None:
    url = f"sqlite:///{project / 'plain.db'}"
    code, output = invoke("doctor", "--database-url", url)
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == f"database: {url} (sqlite)" and lines[1].startswith("server: 3.")
    assert "capabilities:" in lines and "    savepoints: yes" in lines and "    two_phase: no" in lines
    assert "plugins:" in lines and any(line.startswith("    sqlite (dataflow-sqlite ") for line in lines)
    assert "note: pending migrations not checked: they need the models (--models module:attribute)" in lines
    assert lines[-1] == "all good"
    code, output = invoke("doctor", "--database-url", url, "--json")
    report = json.loads(output)
    assert code == 0 and report["pending_migrations"] is None and report["capabilities"]["savepoints"] is True
    assert "sqlite" in [plugin["name"] for plugin in report["plugins"]]


def test_doctor_reads_the_database_from_the_environment_and_needs_one(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = invoke("doctor")
    assert code == 2 and "say which database: --database-url URL" in output
    monkeypatch.setenv("DATAFLOW_DATABASE_URL", f"sqlite:///{project / 'env.db'}")
    code, output = invoke("doctor")
    assert code == 0 and f"database: sqlite:///{project / 'env.db'} (sqlite)" in output


def test_doctor_with_models_lists_pending_migrations(project: Path) -> None:
    write_models(project, "appmodels_l")
    code, output = invoke("doctor", "--models", "appmodels_l:db")
    assert code == 1 and "pending migrations:\n    create table item (Item)\n" in output
    assert "capabilities:" in output and "plugins:" in output


def test_doctor_reports_an_unreachable_database(project: Path) -> None:
    write_models(project, "appmodels_f")
    missing = project / "no-such-dir" / "x.db"
    code, output = invoke("doctor", "--models", "appmodels_f:db", "--database-url", f"sqlite:///{missing}", "--json")
    report = json.loads(output)
    assert code == 1 and any("cannot connect" in p for p in report["problems"])
    assert invoke("migrate", "apply", "--models", "appmodels_f:db")[0] == 0
    code, output = invoke("doctor", "--models", "appmodels_f:db")
    assert code == 0 and "all good" in output and "server: " in output


def test_init_then_its_workflow_and_test_run_as_real_processes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAFLOW_")}
    created = cli("init", "starter", cwd=tmp_path, env=env)
    assert created.returncode == 0, created.stderr
    starter = tmp_path / "starter"
    assert {p.name for p in starter.iterdir()} >= {".env", "models.py", "workflow.py", "test_app.py"}
    for command in (["workflow.py"], ["-m", "pytest", "-q", "-p", "no:cacheprovider"]):
        ran = subprocess.run(
            [sys.executable, *command], cwd=starter, env=env, capture_output=True, text=True, check=False
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (starter / "app.db").exists()
    status = cli("migrate", "status", "--models", "models:db", cwd=starter, env=env)
    assert status.returncode == 0 and "up to date" in status.stdout
    again = cli("init", "starter", cwd=tmp_path, env=env)
    assert again.returncode == 1 and "already exist" in again.stderr


def test_shell_runs_top_level_await(tmp_path: Path) -> None:
    (tmp_path / "shellmodels.py").write_text(MODELS.format(extra=""))
    script = "import asyncio\nprint(await asyncio.sleep(0, result=6 * 7))\nprint(sorted(db.schemas))\n"
    result = cli("shell", "--models", "shellmodels:db", cwd=tmp_path, env=dict(os.environ), stdin=script)
    assert result.returncode == 0, result.stderr
    assert "42" in result.stdout and "['Item']" in result.stdout
    # The banner names this project's nodes, not an example model's.
    assert "ItemCreateNode" in result.stderr and "UserCreateNode" not in result.stderr


def test_migration_files_are_written_applied_once_and_guarded_by_checksum(project: Path) -> None:
    write_models(project, "appmodels_g")
    code, output = invoke("migrate", "make", "create items", "--models", "appmodels_g:db")
    assert code == 0 and "wrote migrations/0001_create_items.py" in output
    text = (project / "migrations" / "0001_create_items.py").read_text()
    assert "DIALECT = 'sqlite'" in text and "create table item (Item)" in text
    code, output = invoke("migrate", "apply", "--models", "appmodels_g:db", "--directory", "migrations")
    assert code == 0 and "applied 0001_create_items" in output
    code, output = invoke("migrate", "apply", "--models", "appmodels_g:db", "--directory", "migrations", "--json")
    assert code == 0 and json.loads(output) == {"applied": []}
    write_models(project, "appmodels_h", "note: str | None = None")
    assert invoke("migrate", "make", "add note", "--models", "appmodels_h:db")[0] == 0
    assert (project / "migrations" / "0002_add_note.py").exists()
    first = project / "migrations" / "0001_create_items.py"
    first.write_text(first.read_text().replace("CREATE TABLE IF NOT EXISTS", "CREATE TABLE IF NOT EXISTS  "))
    code, output = invoke("migrate", "apply", "--models", "appmodels_h:db", "--directory", "migrations")
    assert code == 1 and "0001_create_items was edited after it was applied" in output
    with sqlite3.connect(project / "app.db") as raw:
        assert "note" not in [row[1] for row in raw.execute("PRAGMA table_info(item)")]
    code, output = invoke("migrate", "make", "nothing", "--models", "appmodels_g:db")
    assert code == 0 and "up to date" in output


def test_a_migration_file_that_does_not_load_is_named(project: Path) -> None:
    write_models(project, "appmodels_i")
    (project / "migrations").mkdir()
    (project / "migrations" / "0001_broken.py").write_text("STATEMENTS = [oops]\n")
    code, output = invoke("migrate", "apply", "--models", "appmodels_i:db", "--directory", "migrations")
    assert code == 1 and "0001_broken.py does not load: NameError" in output
