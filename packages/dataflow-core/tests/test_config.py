"""Settings: keywords over environment over defaults, and clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dataflow import ConfigError, DataFlow
from dataflow.config import load_config
from dataflow.plugins import PluginHost


def test_defaults() -> None:
    config = load_config({}, environ={})
    assert config.database_url is None and config.env == "development"
    assert config.pool_size == 10 and config.creates_tables


def test_environment_variables_fill_settings() -> None:
    config = load_config(
        {}, environ={"DATAFLOW_POOL_SIZE": "3", "DATAFLOW_ECHO": "yes", "DATABASE_URL": "sqlite:///x.db"}
    )
    assert config.pool_size == 3 and config.echo is True and config.database_url == "sqlite:///x.db"


def test_dataflow_database_url_wins_over_database_url() -> None:
    config = load_config({}, environ={"DATAFLOW_DATABASE_URL": "sqlite:///a.db", "DATABASE_URL": "sqlite:///b.db"})
    assert config.database_url == "sqlite:///a.db"


def test_keywords_win_over_environment() -> None:
    assert load_config({"pool_size": 7}, environ={"DATAFLOW_POOL_SIZE": "3"}).pool_size == 7


def test_unknown_keyword_names_the_nearest_option() -> None:
    with pytest.raises(ConfigError, match="did you mean 'pool_size'"):
        load_config({"pool_sise": 3}, environ={})


def test_invalid_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="pool_size"):
        load_config({"pool_size": 0}, environ={})
    with pytest.raises(ConfigError, match="env"):
        load_config({"env": "staging"}, environ={})
    with pytest.raises(ConfigError):
        load_config({}, environ={"DATAFLOW_POOL_SIZE": "many"})
    with pytest.raises(ConfigError):
        load_config({}, environ={"DATAFLOW_ECHO": "perhaps"})


def test_production_without_a_url_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATAFLOW_ENV", "production")
    with pytest.raises(ConfigError, match="production"):
        DataFlow()
    assert os.listdir(tmp_path) == []


def test_production_does_not_create_tables() -> None:
    assert not load_config({"env": "production"}, environ={}).creates_tables
    assert load_config({"env": "production", "auto_migrate": True}, environ={}).creates_tables


def test_url_of_an_uninstalled_dialect_names_the_package() -> None:
    with pytest.raises(ConfigError, match=r"pip install dataflow-oracle|no installed plugin"):
        DataFlow("oracle://scott:tiger@db/orcl")


def test_known_dialect_not_installed_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    host = PluginHost()
    monkeypatch.setenv("DATAFLOW_PLUGINS", "core,sqlite")
    host.load()
    monkeypatch.setattr("dataflow.database.plugin_host", lambda: host)
    monkeypatch.setattr("dataflow.registered.plugin_host", lambda: host)
    with pytest.raises(ConfigError, match="pip install dataflow-postgres") as info:
        DataFlow("postgresql://app:s3cret@db.example/app")
    assert "s3cret" not in str(info.value)


def test_password_never_appears_in_repr_or_errors() -> None:
    config = load_config({"database_url": "postgresql://app:s3cret@host/db"}, environ={})
    assert "s3cret" not in repr(config)
    with pytest.raises(ConfigError) as info:
        load_config({"database_url": "postgresql://app:s3cret@host/db", "pool_size": -1}, environ={})
    assert "s3cret" not in str(info.value)


def test_existing_schema_refuses_auto_migrate() -> None:
    with pytest.raises(ConfigError, match="existing_schema=True and auto_migrate=True contradict each other"):
        load_config({"existing_schema": True, "auto_migrate": True}, {})
