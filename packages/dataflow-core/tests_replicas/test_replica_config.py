"""Replicas come from ``replicas=[...]``, ``DATAFLOW_REPLICA_URLS`` or ``?replica=``; each has its own pool."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from replica_sql import pg_fetch, wait_until

from dataflow import DataFlow
from dataflow.errors import ConfigError
from dataflow.routing import caller_context
from dataflow.testing.helpers import define_people, run_node

PRIMARY = "postgresql://app:s3cr3tpw@db1:5432/shop?schema=app"


def labels(db: DataFlow) -> list[str]:
    assert db.replicas is not None
    return [replica.label for replica in db.replicas.replicas]


def test_replicas_keyword_lists_every_replica_with_the_password_hidden() -> None:
    db = DataFlow(PRIMARY, replicas=["postgresql://app:s3cr3tpw@db2/shop", "postgresql://app:s3cr3tpw@db3/shop"])
    try:
        assert labels(db) == ["postgresql://app:***@db2/shop", "postgresql://app:***@db3/shop"]
        assert "s3cr3tpw" not in repr(db.config)
    finally:
        db.close()


def test_the_environment_variable_is_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_REPLICA_URLS", "postgresql://app@db2/shop, postgresql://app@db3/shop")
    db = DataFlow(PRIMARY)
    try:
        assert labels(db) == ["postgresql://app@db2/shop", "postgresql://app@db3/shop"]
    finally:
        db.close()


def test_a_replica_in_the_url_is_the_same_url_on_another_host_and_leaves_the_primary_url() -> None:
    db = DataFlow(PRIMARY + "&replica=db2:5433,db3")
    try:
        assert labels(db) == [
            "postgresql://app:***@db2:5433/shop?schema=app",
            "postgresql://app:***@db3:5432/shop?schema=app",
        ]
        assert db.label == "postgresql://app:***@db1:5432/shop?schema=app"
    finally:
        db.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"replicas": ["mysql://root@db2/shop"]}, "mysql:// URL but the primary is postgresql://"),
        ({"replicas": 5}, "replicas must be a list"),
        ({"replicas": ["postgresql://db2/shop"], "max_replica_lag": 0}, "max_replica_lag must be positive"),
        ({"replica_routing": "fastest"}, "replica_routing must be one of round_robin, least_busy"),
        ({"read_your_writes_window": -1}, "read_your_writes_window must not be negative"),
    ],
)
def test_bad_replica_settings_are_config_errors_naming_the_setting(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DataFlow(PRIMARY, **options)


def test_sqlite_has_no_replicas(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="sqlite dialect has no read replicas"):
        DataFlow(f"sqlite:///{tmp_path / 'a.db'}", replicas=[f"sqlite:///{tmp_path / 'b.db'}"])


def test_each_replica_has_a_pool_of_its_own(pg_urls: tuple[str, str]) -> None:
    primary, replica = pg_urls
    schema = primary.split("schema=")[1].split("&")[0]
    db = DataFlow(primary, env="test", replicas=[replica, replica])
    define_people(db)
    try:
        run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@x"})
        wait_until(
            lambda: asyncio.run(pg_fetch(replica.split("?")[0], "SELECT to_regclass($1)", f"{schema}.user"))[0][0]
        )
        for _ in range(4):
            with caller_context():
                run_node(db, "UserCountNode", {})
        assert db.replicas is not None
        pools = [replica.pools.pools() for replica in db.replicas.replicas]
        assert [len(p) for p in pools] == [1, 1]  # round robin used both
        assert pools[0][0] is not pools[1][0] and all(p[0] not in db.pools() for p in pools)
    finally:
        db.close()


def test_least_busy_reads_on_the_replica_with_the_fewest_connections_in_use(pg_urls: tuple[str, str]) -> None:
    primary, replica = pg_urls
    schema = primary.split("schema=")[1].split("&")[0]
    db = DataFlow(primary, env="test", replicas=[replica, replica], replica_routing="least_busy", max_replica_lag=60)
    define_people(db)
    run_node(db, "UserCreateNode", {"name": "Ann", "email": "ann@x"})
    wait_until(lambda: asyncio.run(pg_fetch(replica.split("?")[0], "SELECT to_regclass($1)", f"{schema}.user"))[0][0])
    assert db.replicas is not None
    first, second = db.replicas.replicas

    async def main() -> tuple[int, int, int, int]:
        with caller_context():
            for _ in range(3):  # all idle: the first replica every time, one warm server connection
                await db.express.count("User")
            only_first = len(first.pools.pools()) + 10 * len(second.pools.pools())
            held = await db.replicas.open_session(db, run_id=None, context={}, needs=None)
            assert held is not None and held.replica is first
            busy = (first.in_use(), second.in_use())
            await db.express.count("User")  # the first is busy: the second serves it
            await db.close_session(held)
            return only_first, *busy, len(second.pools.pools())

    try:
        assert asyncio.run(main()) == (1, 1, 0, 1)
    finally:
        db.close()
