"""Optimistic locking needs no plugin besides a dialect: the core adds the version column and checks it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dataflow import ConfigError, DataFlow


def test_a_stale_write_is_refused_with_only_the_core_and_a_dialect_installed(tmp_path: Path) -> None:
    code = f"""
        from dataflow import ConcurrentUpdateError, DataFlow
        from dataflow.plugins import plugin_host
        from dataflow.testing.helpers import failure, run_node

        db = DataFlow("sqlite:///{tmp_path / "v.db"}")
        assert sorted(info.name for info in plugin_host().info()) == ["core", "sqlite"]

        @db.model
        class Doc:
            title: str
            __dataflow__ = {{"versioned": True}}

        doc = run_node(db, "DocCreateNode", {{"title": "a"}})
        run_node(db, "DocUpdateNode", {{"id": doc["id"], "fields": {{"title": "b", "version": 1}}}})
        stale = failure(db, "DocUpdateNode", {{"id": doc["id"], "fields": {{"title": "lost", "version": 1}}}})
        print(type(stale).__name__, run_node(db, "DocReadNode", {{"id": doc["id"]}}))
        db.close()
    """
    env = {**os.environ, "DATAFLOW_PLUGINS": "sqlite"}
    command = [sys.executable, "-c", textwrap.dedent(code)]
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ConcurrentUpdateError {'id': 1, 'title': 'b', 'version': 2}"


def test_a_version_field_the_model_declares_is_adopted_when_it_is_a_non_null_int(db: DataFlow) -> None:
    @db.model
    class Note:
        text: str
        version: int = 1
        __dataflow__ = {"versioned": True}

    schema = db.schema("Note")
    assert schema.version_field == "version" and [f.name for f in schema.fields].count("version") == 1


def test_a_version_field_of_another_type_is_a_config_error_naming_it(db: DataFlow) -> None:
    with pytest.raises(ConfigError) as caught:

        @db.model
        class Page:
            text: str
            version: str = "1"
            __dataflow__ = {"versioned": True}

    assert caught.value.field == "version"
    assert "Page.version must be a non-null int on a versioned model" in caught.value.message


def test_a_model_that_is_not_versioned_gets_no_version_column(db: DataFlow) -> None:
    @db.model
    class Plain:
        text: str

    assert db.schema("Plain").version_field is None and "version" not in db.schema("Plain").by_name
