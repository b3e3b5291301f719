"""URLs in SQLAlchemy's conventions, passwords masked."""

from __future__ import annotations

import pytest

from dataflow import ConfigError
from dataflow.url import DatabaseURL, mask_password


@pytest.mark.parametrize(
    ("url", "database"),
    [
        ("sqlite:///app.db", "app.db"),
        ("sqlite:////var/data/app.db", "/var/data/app.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_paths(url: str, database: str) -> None:
    parsed = DatabaseURL.parse(url)
    assert parsed.scheme == "sqlite" and parsed.database == database


def test_server_url_parts() -> None:
    url = DatabaseURL.parse(
        "postgresql+asyncpg://us%40er:p%3Ass@db.example:6432/app?sslmode=require&application_name=x"
    )
    assert (url.scheme, url.driver, url.username, url.password) == ("postgresql", "asyncpg", "us@er", "p:ss")
    assert (url.host, url.port, url.database) == ("db.example", 6432, "app")
    assert url.options == {"sslmode": "require", "application_name": "x"}


def test_password_is_masked_in_str_and_repr() -> None:
    url = DatabaseURL.parse("mysql://root:hunter2@localhost/test")
    assert "hunter2" not in str(url) and "hunter2" not in repr(url)
    assert str(url) == "mysql://root:***@localhost/test"
    assert url.render(hide_password=False) == "mysql://root:hunter2@localhost/test"


def test_mask_password_of_unparseable_text() -> None:
    assert mask_password("weird://u:pw@h:notaport/x") == "weird://u:***@h:notaport/x"


@pytest.mark.parametrize("url", ["no-scheme", "postgresql://u:pw@host:99999999/db"])
def test_bad_urls_are_config_errors_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        DatabaseURL.parse(url)
    assert "pw@" not in str(info.value)
