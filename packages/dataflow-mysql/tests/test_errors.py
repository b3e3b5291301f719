"""Errors the real server raises come out as DataFlow's errors, naming the model and fields."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from mysql_helpers import admin_connection, database_url, open_db

from dataflow import (
    ConnectionError,
    DataFlow,
    DeadlockError,
    ForeignKeyViolationError,
    LockTimeoutError,
    NotNullViolationError,
    QueryCancelledError,
    UniqueViolationError,
)
from dataflow.session import Session
from dataflow.testing.helpers import define_people, failure, run_node


@pytest.fixture
def db(dataflow_database_url: str) -> Iterator[DataFlow]:
    instance = open_db(dataflow_database_url)
    define_people(instance)
    instance.create_tables()
    yield instance
    instance.close()


def test_duplicate_key_names_the_unique_group(db: DataFlow) -> None:
    run_node(db, "UserCreateNode", {"name": "a", "email": "a@x"})
    error = failure(db, "UserCreateNode", {"name": "b", "email": "a@x"})
    assert isinstance(error, UniqueViolationError)
    assert error.fields == ("email",) and error.constraint == "uq_user_email" and error.model == "User"


def test_duplicate_primary_key_names_the_key(db: DataFlow) -> None:
    run_node(db, "UserCreateNode", {"id": 7, "name": "a", "email": "a@x"})
    error = failure(db, "UserCreateNode", {"id": 7, "name": "b", "email": "b@x"})
    assert isinstance(error, UniqueViolationError) and error.fields == ("id",)


def test_foreign_key_to_a_missing_row_and_from_a_referenced_row(db: DataFlow) -> None:
    error = failure(db, "UserCreateNode", {"name": "a", "email": "a@x", "team_id": 404})
    assert isinstance(error, ForeignKeyViolationError) and error.fields == ("team_id",)
    team = run_node(db, "TeamCreateNode", {"name": "t"})
    run_node(db, "UserCreateNode", {"name": "a", "email": "a@x", "team_id": team["id"]})
    error = failure(db, "TeamDeleteNode", {"id": team["id"]})
    assert isinstance(error, ForeignKeyViolationError) and "referenced" in str(error)


async def with_session(db: DataFlow, action: object) -> None:
    session = await db.open_session()
    try:
        await action(session)  # type: ignore[operator]
    finally:
        await db.close_session(session)


@pytest.mark.parametrize(
    ("sql", "field"),
    [
        ("INSERT INTO `user` (`name`, `email`, `age`, `active`) VALUES (NULL, 'x', 1, 1)", "name"),
        ("INSERT INTO `user` (`name`, `email`, `active`) VALUES ('n', 'x', 1)", "age"),  # strict: no default
    ],
)
def test_null_or_missing_value_in_a_required_column(db: DataFlow, sql: str, field: str) -> None:
    async def action(session: Session) -> None:
        await session.execute(sql, schema=db.schema("User"))

    with pytest.raises(NotNullViolationError) as info:
        asyncio.run(with_session(db, action))
    assert info.value.fields == (field,) and info.value.model == "User"


def test_statement_time_limit_is_a_cancelled_query(db: DataFlow) -> None:
    async def action(session: Session) -> None:
        await session.fetch("SET STATEMENT max_statement_time = 0.05 FOR SELECT SLEEP(2)")

    with pytest.raises(QueryCancelledError):
        asyncio.run(with_session(db, action))


def test_lock_wait_timeout(db: DataFlow) -> None:
    async def main() -> None:
        first, second = await db.open_session(), await db.open_session()
        try:
            await first.begin()
            await first.execute("INSERT INTO `team` (`id`, `name`) VALUES (1, 'x')")
            await second.execute("SET SESSION innodb_lock_wait_timeout = 1")
            await second.begin()
            with pytest.raises(LockTimeoutError):
                await second.execute("INSERT INTO `team` (`id`, `name`) VALUES (1, 'y')")
            await first.rollback()
            await second.rollback()
        finally:
            await db.close_session(first)
            await db.close_session(second)

    asyncio.run(main())


def test_deadlock_is_retryable_and_the_aborted_transaction_cannot_commit(db: DataFlow) -> None:
    run_node(db, "TeamBulkCreateNode", {"data": [{"name": "a"}, {"name": "b"}]})

    async def main() -> list[BaseException | None]:
        first, second = await db.open_session(), await db.open_session()
        try:
            for session in (first, second):
                await session.begin()
            await first.execute("UPDATE `team` SET `name` = 'a1' WHERE `id` = 1")
            await second.execute("UPDATE `team` SET `name` = 'b2' WHERE `id` = 2")

            async def cross(session: Session, key: int) -> BaseException | None:
                try:
                    await session.execute(f"UPDATE `team` SET `name` = 'z' WHERE `id` = {key}")
                except DeadlockError as exc:
                    with pytest.raises(DeadlockError):  # the server rolled the transaction back
                        await session.commit()
                    return exc
                return None

            outcomes = await asyncio.gather(cross(first, 2), cross(second, 1))
            for session in (first, second):
                await session.rollback()
            return list(outcomes)
        finally:
            await db.close_session(first)
            await db.close_session(second)

    outcomes = asyncio.run(main())
    deadlocks = [o for o in outcomes if o is not None]
    assert len(deadlocks) == 1 and isinstance(deadlocks[0], DeadlockError) and deadlocks[0].retryable


def test_a_killed_connection_is_a_connection_error_and_is_not_reused(db: DataFlow) -> None:
    async def main() -> None:
        session = await db.open_session()
        [(thread_id,)] = await session.fetch("SELECT CONNECTION_ID()")
        admin = admin_connection()
        admin.cursor().execute(f"KILL {int(thread_id)}")
        admin.close()
        with pytest.raises(ConnectionError):
            await session.fetch("SELECT 1")
        assert session.broken
        await db.close_session(session)
        again = await db.open_session()
        assert (await again.fetch("SELECT 1")) == [(1,)]
        await db.close_session(again)
        await db.close_async()

    asyncio.run(main())


def test_an_unreachable_server_is_a_connection_error_without_the_password(database_name: str) -> None:
    db = open_db("mysql://root:hunter2@127.0.0.1:1/x?connect_timeout=2")
    define_people(db)
    error = failure(db, "TeamCountNode", {})
    assert isinstance(error, ConnectionError) and "hunter2" not in str(error) and "***" in str(error)
    db.close()


def test_wrong_credentials_are_a_connection_error_without_the_password(database_name: str) -> None:
    url = database_url(database_name).replace("root@", "nobody_dataflow:hunter2@")
    db = open_db(url)
    define_people(db)
    error = failure(db, "TeamCountNode", {})
    assert isinstance(error, ConnectionError) and "hunter2" not in str(error) and "Access denied" in str(error)
    db.close()
