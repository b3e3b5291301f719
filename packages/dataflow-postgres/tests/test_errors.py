"""asyncpg errors become DataFlow errors that name the model, the constraint and the fields."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from pg_testing import run_node

from dataflow import (
    ConnectionError,
    DatabaseError,
    DataFlow,
    DeadlockError,
    ForeignKeyViolationError,
    LockTimeoutError,
    MaxLength,
    NotNullViolationError,
    QueryCancelledError,
    SerializationError,
    UniqueViolationError,
    ValidationError,
    WorkflowError,
)
from dataflow.session import Session


@pytest.fixture
def db(dataflow_database_url: str) -> Iterator[DataFlow]:
    instance = DataFlow(dataflow_database_url)

    @instance.model
    class Team:
        name: str

    @instance.model
    class Member:
        name: str
        email: Annotated[str, MaxLength(100)]
        city: str = ""
        team_id: Team | None = None
        __dataflow__ = {"unique": [("email",), ("name", "city")]}

    yield instance
    instance.close()


def cause(db: DataFlow, node: str, params: dict[str, Any]) -> BaseException:
    with pytest.raises(WorkflowError) as info:
        run_node(db, node, params)
    assert info.value.cause is not None
    return info.value.cause


async def in_session(db: DataFlow, sql: str, model: str | None = None) -> BaseException:
    """The error ``sql`` raises through a session (for states the nodes' validation prevents)."""
    await db.create_tables_async()
    session = await db.open_session()
    try:
        await session.execute(sql, schema=db.schema(model) if model else None)
    except Exception as exc:  # noqa: BLE001 - returned for the test to inspect
        return exc
    finally:
        await db.close_session(session)
    raise AssertionError(f"{sql!r} did not fail")


def test_unique_violation_names_field_and_constraint_but_not_the_value(db: DataFlow) -> None:
    run_node(db, "MemberCreateNode", {"name": "Ann", "email": "secret-ann@example.com"})
    error = cause(db, "MemberCreateNode", {"name": "Bo", "email": "secret-ann@example.com"})
    assert isinstance(error, UniqueViolationError)
    assert error.model == "Member" and error.fields == ("email",) and error.field == "email"
    assert error.constraint == "uq_member_email"
    assert "email" in str(error) and "secret-ann" not in str(error)


def test_unique_violation_of_a_composite_key_names_every_field(db: DataFlow) -> None:
    run_node(db, "MemberCreateNode", {"name": "Ann", "email": "a@x", "city": "Oslo"})
    error = cause(db, "MemberCreateNode", {"name": "Ann", "email": "b@x", "city": "Oslo"})
    assert isinstance(error, UniqueViolationError) and error.fields == ("name", "city")


def test_unique_violation_in_a_copy_names_the_field(db: DataFlow) -> None:
    data = [{"name": f"n{i}", "email": f"{i}@x"} for i in range(100)] + [{"name": "dup", "email": "7@x"}]
    error = cause(db, "MemberBulkCreateNode", {"data": data, "strategy": "copy"})
    assert isinstance(error, UniqueViolationError) and error.fields == ("email",)
    assert run_node(db, "MemberCountNode") == {"count": 0}


def test_missing_foreign_key_target_names_the_field(db: DataFlow) -> None:
    error = cause(db, "MemberCreateNode", {"name": "Ann", "email": "a@x", "team_id": 404})
    assert isinstance(error, ForeignKeyViolationError)
    assert error.fields == ("team_id",) and error.constraint == "fk_member_team_id"


def test_deleting_a_referenced_record_is_a_foreign_key_error(db: DataFlow) -> None:
    team = run_node(db, "TeamCreateNode", {"name": "red"})
    run_node(db, "MemberCreateNode", {"name": "Ann", "email": "a@x", "team_id": team["id"]})
    error = cause(db, "TeamDeleteNode", {"id": team["id"]})
    assert isinstance(error, ForeignKeyViolationError) and "member" in str(error)
    assert run_node(db, "TeamCountNode") == {"count": 1}


def test_not_null_violation_names_the_column(db: DataFlow) -> None:
    error = asyncio.run(in_session(db, 'INSERT INTO "member" ("name") VALUES (\'x\')', "Member"))
    assert isinstance(error, NotNullViolationError) and error.fields == ("email",) and error.model == "Member"


def test_conflict_on_without_a_unique_constraint_is_a_validation_error(db: DataFlow) -> None:
    error = cause(db, "MemberBulkUpsertNode", {"data": [{"name": "a", "email": "a@x"}], "conflict_on": ["name"]})
    assert isinstance(error, ValidationError) and error.field == "conflict_on"


def test_other_server_errors_are_database_errors(db: DataFlow) -> None:
    error = asyncio.run(in_session(db, "SELECT * FROM no_such_table"))
    assert isinstance(error, DatabaseError) and "42P01" in str(error)


def test_serialization_failure(db: DataFlow) -> None:
    async def main() -> BaseException:
        await db.create_tables_async()
        first, second = await db.open_session(), await db.open_session()
        try:
            for session in (first, second):
                await session.begin("serializable")
                await session.fetch('SELECT count(*) FROM "team"')
            await first.execute('INSERT INTO "team" ("name") VALUES (\'a\')')
            await second.execute('INSERT INTO "team" ("name") VALUES (\'b\')')
            await first.commit()
            try:
                await second.commit()
            except Exception as exc:  # noqa: BLE001
                return exc
            raise AssertionError("both serializable transactions committed")
        finally:
            await db.close_session(first)
            await db.close_session(second)

    error = asyncio.run(main())
    assert isinstance(error, SerializationError) and error.retryable


def test_deadlock(db: DataFlow) -> None:
    ids = run_node(db, "TeamBulkCreateNode", {"data": [{"name": "a"}, {"name": "b"}], "return_ids": True})["ids"]

    async def lock(session: Session, key: int) -> None:
        await session.execute('UPDATE "team" SET "name" = "name" WHERE "id" = $1', [key])

    async def main() -> list[BaseException | None]:
        first, second = await db.open_session(), await db.open_session()
        try:
            await first.begin()
            await second.begin()
            await lock(first, ids[0])
            await lock(second, ids[1])
            outcomes = await asyncio.gather(lock(first, ids[1]), lock(second, ids[0]), return_exceptions=True)
            return [o if isinstance(o, BaseException) else None for o in outcomes]
        finally:
            await db.close_session(first)
            await db.close_session(second)

    errors = [e for e in asyncio.run(main()) if e is not None]
    assert len(errors) == 1 and isinstance(errors[0], DeadlockError) and errors[0].retryable


def test_lock_not_available(db: DataFlow) -> None:
    run_node(db, "TeamCreateNode", {"name": "a"})

    async def main() -> BaseException:
        holder, waiter = await db.open_session(), await db.open_session()
        try:
            await holder.begin()
            await holder.fetch('SELECT * FROM "team" FOR UPDATE')
            await waiter.begin()
            try:
                await waiter.fetch('SELECT * FROM "team" FOR UPDATE NOWAIT')
            except Exception as exc:  # noqa: BLE001
                return exc
            raise AssertionError("the lock was granted")
        finally:
            await db.close_session(holder)
            await db.close_session(waiter)

    assert isinstance(asyncio.run(main()), LockTimeoutError)


def test_statement_timeout_is_a_cancelled_query(db: DataFlow) -> None:
    async def main() -> BaseException:
        await db.create_tables_async()
        session = await db.open_session()
        try:
            await session.begin()
            await session.execute("SET LOCAL statement_timeout = '50ms'")
            try:
                await session.fetch("SELECT pg_sleep(5)")
            except Exception as exc:  # noqa: BLE001
                return exc
            raise AssertionError("the statement was not cancelled")
        finally:
            await db.close_session(session)

    assert isinstance(asyncio.run(main()), QueryCancelledError)


def test_command_timeout_is_a_cancelled_query(dataflow_database_url: str) -> None:
    async def main() -> tuple[BaseException, int]:
        db = DataFlow(dataflow_database_url + "&command_timeout=0.2")
        try:
            session = await db.open_session()
            try:
                await session.fetch("SELECT pg_sleep(5)")
            except Exception as exc:  # noqa: BLE001
                error = exc
            else:
                raise AssertionError("the statement was not cancelled")
            finally:
                await db.close_session(session)
            # The connection stays usable after the cancellation.
            session = await db.open_session()
            try:
                rows = await session.fetch("SELECT 1")
            finally:
                await db.close_session(session)
            return error, int(rows[0][0])
        finally:
            await db.close_async()

    error, one = asyncio.run(main())
    assert isinstance(error, QueryCancelledError) and one == 1


def test_lost_connection_is_a_connection_error_and_the_pool_recovers(db: DataFlow) -> None:
    async def main() -> tuple[BaseException, int]:
        await db.create_tables_async()
        victim, killer = await db.open_session(), await db.open_session()
        pid = (await victim.fetch("SELECT pg_backend_pid()"))[0][0]
        await killer.fetch("SELECT pg_terminate_backend($1)", [pid])
        await db.close_session(killer)
        try:
            await victim.fetch("SELECT 1")
        except Exception as exc:  # noqa: BLE001
            error = exc
        else:
            raise AssertionError("the dead connection answered")
        assert victim.broken, repr(error)
        await db.close_session(victim)
        again = await db.open_session()
        try:
            rows = await again.fetch("SELECT 1")
        finally:
            await db.close_session(again)
        return error, int(rows[0][0])

    error, one = asyncio.run(main())
    assert isinstance(error, ConnectionError) and one == 1
