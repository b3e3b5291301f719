"""The SQL text the dialect writes, and its URL options (no server needed)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Annotated

import pytest

from dataflow import ConfigError, DataFlow, MaxLength
from dataflow.errors import FilterError
from dataflow.filters import compile_filter
from dataflow.sql import Params
from dataflow_mysql import MySQLDialect, ServerInfo
from dataflow_mysql.literals import LONG_TEXT, literal, pack_statements, render

MARIADB = ServerInfo(mariadb=True, version=(10, 11, 6))
MYSQL8 = ServerInfo(mariadb=False, version=(8, 0, 36))


def mysql(db: DataFlow) -> MySQLDialect:
    assert isinstance(db.dialect, MySQLDialect)
    return db.dialect


def dialect(url: str = "mysql://root@127.0.0.1:3306/test", server: ServerInfo | None = MARIADB) -> MySQLDialect:
    db = DataFlow(url, env="test")
    assert isinstance(db.dialect, MySQLDialect)
    db.dialect.server = server
    return db.dialect


def test_mysql_mariadb_and_driver_suffixed_urls_pick_the_dialect() -> None:
    for url in ("mysql://root@h/db", "mariadb://root@h/db", "mysql+aiomysql://root@h/db"):
        assert isinstance(DataFlow(url, env="test").dialect, MySQLDialect)


def test_another_driver_in_the_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="aiomysql"):
        DataFlow("mysql+asyncmy://root@h/db", env="test")


def test_identifiers_are_backtick_quoted() -> None:
    assert dialect().quote("order") == "`order`"
    assert dialect().quote("a`b") == "`a``b`"


def test_offset_without_limit_uses_the_largest_limit() -> None:
    assert dialect().limit_clause(None, "%s") == " LIMIT 18446744073709551615 OFFSET %s"
    assert dialect().limit_clause("%s", None) == " LIMIT %s"


def test_upsert_uses_values_on_mariadb_and_a_row_alias_on_mysql_8() -> None:
    args = ("t", ("k", "v"), ("%s", "%s"), ("k",), ("v",))
    assert dialect(server=MARIADB).upsert_sql(*args) == (
        "INSERT INTO `t` (`k`, `v`) VALUES (%s, %s) ON DUPLICATE KEY UPDATE `v` = VALUES(`v`)"
    )
    assert dialect(server=MYSQL8).upsert_sql(*args) == (
        "INSERT INTO `t` (`k`, `v`) VALUES (%s, %s) AS `_df_new` ON DUPLICATE KEY UPDATE `v` = `_df_new`.`v`"
    )


def test_upsert_without_update_columns_keeps_the_row() -> None:
    sql = dialect().upsert_sql("t", ("k",), ("%s",), ("k",), ())
    assert sql.endswith("ON DUPLICATE KEY UPDATE `k` = `k`")


def test_capabilities_follow_the_server() -> None:
    assert MARIADB.capabilities().returning == frozenset({"insert", "delete"})
    assert MYSQL8.capabilities().returning == frozenset()
    assert ServerInfo(mariadb=True, version=(10, 4, 0)).capabilities().returning == frozenset()
    caps = MARIADB.capabilities()
    assert caps.upsert_needs_unique_key and caps.savepoints and caps.two_phase and not caps.transactional_ddl
    assert caps.max_identifier_length == 64 and caps.max_parameters == 65535


def test_server_version_text_is_parsed() -> None:
    row = ("10.11.19-MariaDB-0+deb12u1", 16777216, 1, 1, 1, 0)
    info = ServerInfo.from_row(row)
    assert info.mariadb and info.version == (10, 11, 19) and info.local_infile and info.consecutive_ids
    assert not ServerInfo.from_row(("8.0.36", 67108864, 0, 2, 1, 0)).consecutive_ids


def test_create_table_puts_keys_inside_one_statement() -> None:
    db = DataFlow("mysql://root@h/db", env="test")
    mysql(db).server = MARIADB

    @db.model
    class Team:
        name: Annotated[str, MaxLength(100)]

    @db.model
    class Member:
        email: str
        bio: str
        team_id: Team | None = None
        __dataflow__ = {"unique": [("email",)], "indexes": [("bio",)]}

    [sql] = db.dialect.create_table_sql(db.schema("Member"), db.schemas)
    assert sql.startswith("CREATE TABLE IF NOT EXISTS `member`")
    assert "`id` BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY" in sql
    assert "`email` VARCHAR(255) NOT NULL" in sql  # unique without MaxLength
    assert "`bio` LONGTEXT NOT NULL" in sql
    assert "UNIQUE KEY `uq_member_email` (`email`)" in sql
    assert "KEY `ix_member_bio` (`bio`(255))" in sql  # a prefix index on unbounded text
    assert "`team_id` BIGINT" in sql and "FOREIGN KEY (`team_id`) REFERENCES `team` (`id`)" in sql
    assert sql.endswith("ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin")


def test_a_unique_key_that_cannot_be_indexed_is_refused_at_model_definition() -> None:
    db = DataFlow("mysql://root@h/db", env="test")

    with pytest.raises(ConfigError, match="MaxLength") as info:

        @db.model
        class Page:
            body: Annotated[str, MaxLength(5000)]
            __dataflow__ = {"unique": [("body",)]}

    assert info.value.field == "body"
    assert "Page" not in db.schemas


def test_identifiers_longer_than_64_are_refused() -> None:
    db = DataFlow("mysql://root@h/db", env="test")
    with pytest.raises(ConfigError, match="64"):
        db.model(type("M", (), {"__annotations__": {"x" * 65: int}}))


@pytest.mark.parametrize(
    ("query", "nearest"),
    [("pool_sise=3", "pool_size"), ("conect_timeout=3", "connect_timeout"), ("local_infle=1", "local_infile")],
)
def test_unknown_url_option_names_the_nearest(query: str, nearest: str) -> None:
    with pytest.raises(ConfigError, match=nearest):
        DataFlow(f"mysql://root@h/db?{query}", env="test")


def test_url_options_are_read() -> None:
    options = dialect("mysql://u:pw@h:3307/db?pool_size=3&pool_timeout=2.5&connect_timeout=4&local_infile=true").options
    assert (options.host, options.port, options.user, options.database) == ("h", 3307, "u", "db")
    assert (options.pool_size, options.pool_timeout, options.connect_timeout, options.local_infile) == (3, 2.5, 4, True)
    assert "pw" not in repr(options)


@pytest.mark.parametrize("query", ["charset=latin1", "pool_size=0", "local_infile=maybe", "connect_timeout=x"])
def test_bad_url_option_values_are_config_errors(query: str) -> None:
    with pytest.raises(ConfigError):
        DataFlow(f"mysql://root@h/db?{query}", env="test")


def test_a_url_without_database_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no database"):
        DataFlow("mysql://root:secret@h", env="test")


def test_password_never_shows() -> None:
    db = DataFlow("mysql://root:s3cret@h/db", env="test")
    assert "s3cret" not in repr(db) and "s3cret" not in db.label and "s3cret" not in repr(mysql(db).options)


def test_literals_escape_what_mysql_needs() -> None:
    assert literal("it's \\ \n %") == "'it\\'s \\\\ \\n %'"
    assert literal(b"\x00'") == "X'0027'"
    assert literal(True) == "1" and literal(None) == "NULL" and literal(2**63) == str(2**63)
    assert literal(1.5) == "1.5e0" and literal(decimal.Decimal("1E+3")) == "1000"
    assert literal(dt.datetime(2026, 1, 2, 3, 4, 5)) == "'2026-01-02 03:04:05.000000'"
    assert literal(dt.date(2026, 1, 2)) == "'2026-01-02'"
    assert render("a = %s AND b LIKE %s", ["x", "50%"]) == "a = 'x' AND b LIKE '50%'"
    with pytest.raises(ValueError):
        literal(float("nan"))
    assert literal(uuid.UUID(int=1)) == "'00000000-0000-0000-0000-000000000001'"


def test_statements_are_packed_under_the_byte_budget() -> None:
    rows = [f"({i},'{'é' * 10}')" for i in range(1000)]
    statements = pack_statements("INSERT INTO t VALUES ", rows, " ON X", 2000)
    assert all(len(s.encode()) <= 2000 for s in statements)
    assert sum(s.count("),(") + 1 for s in statements) == 1000
    assert len(pack_statements("P ", rows, "", 10**9, max_rows=300)) == 4


def test_overlaps_needs_json_overlaps_and_an_older_server_says_so() -> None:
    for server, has_overlaps in (
        (MARIADB, True),
        (MYSQL8, True),
        (ServerInfo(mariadb=True, version=(10, 6, 0)), False),
    ):
        db = DataFlow("mysql://root@127.0.0.1:3306/test", env="test")
        assert isinstance(db.dialect, MySQLDialect)
        db.dialect.server = server

        @db.model
        class Post:
            tags: list[str]

        table = db.table_sql(db.schema("Post"))
        assert compile_filter({"tags": {"$contains": ["a"]}}, table, Params(db.dialect)) == "JSON_CONTAINS(`tags`, %s)"
        overlaps = {"tags": {"$overlaps": ["a"]}}
        if has_overlaps:
            assert compile_filter(overlaps, table, Params(db.dialect)) == "JSON_OVERLAPS(`tags`, %s)"
        else:
            with pytest.raises(FilterError, match=r"\$overlaps is not supported") as info:
                compile_filter(overlaps, table, Params(db.dialect))
            assert info.value.field == "tags"
        del Post


@pytest.mark.parametrize("length", [LONG_TEXT - 1, LONG_TEXT, 100_000])
def test_a_long_text_is_escaped_exactly_as_pymysql_does(length: int) -> None:
    """Long texts take seven replaces instead of str.translate: the same literal, backslashes not doubled twice."""
    from pymysql.converters import escape_str  # noqa: PLC0415 - the reference, only in this test

    special = "\\'\"\0\n\r\x1a\\\\n ü 😀 % "
    text = (special * (length // len(special) + 1))[:length]
    assert literal(text) == escape_str(text)
