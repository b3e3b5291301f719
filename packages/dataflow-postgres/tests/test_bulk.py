"""The PostgreSQL bulk strategies: each forced by name gives the same rows and true counts."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from pg_testing import fetch, option, plain_url, run_node

from dataflow import DataFlow, UniqueViolationError, ValidationError, WorkflowError
from dataflow.bulk.strategy import offered_strategies, registered_bulk_strategies
from dataflow.url import DatabaseURL
from dataflow.workflow import AsyncLocalRuntime, LocalRuntime, WorkflowBuilder
from dataflow_postgres import PostgresDialect


@pytest.fixture
def db(dataflow_database_url: str) -> Iterator[DataFlow]:
    instance = DataFlow(dataflow_database_url)

    @instance.model
    class Item:
        sku: str
        name: str
        qty: int = 0
        __dataflow__ = {"unique": [("sku",)]}

    @instance.model
    class Post:
        title: str
        slug: str
        __dataflow__ = {"unique": [("slug",)], "soft_delete": True}

    yield instance
    instance.close()


def items(n: int, start: int = 0, **extra: Any) -> list[dict[str, Any]]:
    return [{"sku": f"sku-{i}", "name": f"item {i}", "qty": i, **extra} for i in range(start, start + n)]


def table(db: DataFlow, name: str = "item") -> list[tuple[Any, ...]]:
    return [tuple(row) for row in fetch(db.label, f'SELECT sku, name, qty FROM "{name}" ORDER BY sku')]


def failure(db: DataFlow, node: str, params: dict[str, Any]) -> BaseException:
    with pytest.raises(WorkflowError) as info:
        run_node(db, node, params)
    assert info.value.cause is not None
    return info.value.cause


def test_postgres_strategies_are_registered_and_preferred(db: DataFlow) -> None:
    best: dict[str, tuple[int, str]] = {}
    for strategy in offered_strategies(registered_bulk_strategies(), db.dialect):
        current = best.get(strategy.operation)
        if current is None or strategy.priority > current[0]:
            best[strategy.operation] = (strategy.priority, strategy.name)
    assert {op: name for op, (_, name) in best.items()} == {
        "create": "copy",
        "upsert": "copy_merge",
        "update": "unnest",
        "delete": "unnest",
    }


@pytest.mark.parametrize("strategy", ["copy", "unnest", "values", "executemany"])
def test_each_create_strategy_writes_the_same_rows(db: DataFlow, strategy: str) -> None:
    result = run_node(db, "ItemBulkCreateNode", {"data": items(1500), "strategy": strategy, "batch_size": 400})
    assert result == {"inserted": 1500}
    assert table(db) == sorted((f"sku-{i}", f"item {i}", i) for i in range(1500))


@pytest.mark.parametrize("strategy", ["copy", "unnest", "values"])
def test_returned_ids_follow_row_order(db: DataFlow, strategy: str) -> None:
    run_node(db, "ItemBulkCreateNode", {"data": items(3, start=900)})  # the sequence is not at 1
    data = list(reversed(items(700)))
    result = run_node(
        db, "ItemBulkCreateNode", {"data": data, "strategy": strategy, "return_ids": True, "batch_size": 256}
    )
    assert result["inserted"] == 700 and len(result["ids"]) == 700
    by_id = {row[0]: row[1] for row in fetch(db.label, 'SELECT id, sku FROM "item"')}
    assert [by_id[i] for i in result["ids"]] == [row["sku"] for row in data]


@pytest.mark.parametrize("strategy", ["copy", "unnest"])
def test_given_keys_are_returned_as_given(db: DataFlow, strategy: str) -> None:
    data = [{"id": 1000 + i, **row} for i, row in enumerate(items(5))]
    result = run_node(db, "ItemBulkCreateNode", {"data": data, "strategy": strategy, "return_ids": True})
    assert result == {"inserted": 5, "ids": [1000, 1001, 1002, 1003, 1004]}


def test_ids_of_a_uuid_keyed_model(dataflow_database_url: str) -> None:
    db = DataFlow(dataflow_database_url)

    @db.model
    class Token:
        id: uuid.UUID
        label: str

    keys = [uuid.uuid4() for _ in range(4)]
    data = [{"id": key, "label": str(i)} for i, key in enumerate(keys)]
    assert run_node(db, "TokenBulkCreateNode", {"data": data, "return_ids": True}) == {"inserted": 4, "ids": keys}
    assert run_node(db, "TokenReadNode", {"id": keys[2]})["label"] == "2"
    db.close()


@pytest.mark.parametrize("strategy", ["copy", "unnest", "values", "executemany"])
def test_unique_conflict_in_a_batch_leaves_the_table_unchanged(db: DataFlow, strategy: str) -> None:
    run_node(db, "ItemBulkCreateNode", {"data": items(10)})
    data = items(500, start=10) + [{"sku": "sku-3", "name": "dup"}]
    error = failure(db, "ItemBulkCreateNode", {"data": data, "strategy": strategy, "batch_size": 100})
    assert isinstance(error, UniqueViolationError) and error.fields == ("sku",)
    assert table(db) == sorted((f"sku-{i}", f"item {i}", i) for i in range(10))


@pytest.mark.parametrize("strategy", ["copy_merge", "unnest", "upsert"])
def test_each_upsert_strategy_counts_inserted_and_updated(db: DataFlow, strategy: str) -> None:
    run_node(db, "ItemBulkCreateNode", {"data": items(300)})
    data = items(400, start=200, name="changed")
    result = run_node(
        db, "ItemBulkUpsertNode", {"data": data, "conflict_on": ["sku"], "strategy": strategy, "batch_size": 150}
    )
    assert result == {"inserted": 300, "updated": 100}
    rows = table(db)
    assert len(rows) == 600
    assert sum(1 for row in rows if row[1] == "changed") == 400


@pytest.mark.parametrize("strategy", ["copy_merge", "unnest", "upsert"])
def test_upsert_without_update_fields_only_inserts(db: DataFlow, strategy: str) -> None:
    run_node(db, "ItemBulkCreateNode", {"data": items(5)})
    data = items(8, name="changed")
    result = run_node(
        db, "ItemBulkUpsertNode", {"data": data, "conflict_on": ["sku"], "update_fields": [], "strategy": strategy}
    )
    assert result == {"inserted": 3, "updated": 0}
    assert [row[1] for row in table(db)] == [f"item {i}" for i in range(5)] + ["changed"] * 3


@pytest.mark.parametrize("strategy", ["copy_merge", "unnest"])
def test_upsert_does_not_touch_a_soft_deleted_record_and_a_live_one_takes_its_value(
    db: DataFlow, strategy: str
) -> None:
    ids = run_node(
        db,
        "PostBulkCreateNode",
        {"data": [{"title": "a", "slug": "a"}, {"title": "b", "slug": "b"}], "return_ids": True},
    )["ids"]
    run_node(db, "PostDeleteNode", {"id": ids[1]})  # soft: the row stays, outside the scope
    data = [{"title": "A", "slug": "a"}, {"title": "B", "slug": "b"}, {"title": "C", "slug": "c"}]
    # Unique among live rows (a partial index): the deleted b holds no slug, so a live b is a new row.
    result = run_node(db, "PostBulkUpsertNode", {"data": data, "conflict_on": ["slug"], "strategy": strategy})
    assert result == {"inserted": 2, "updated": 1}
    rows = fetch(db.label, 'SELECT slug, title, deleted_at IS NULL FROM "post" ORDER BY slug, id')
    assert [tuple(row) for row in rows] == [("a", "A", True), ("b", "b", False), ("b", "B", True), ("c", "C", True)]
    result = run_node(
        db, "PostBulkUpsertNode", {"data": [data[1], data[2]], "conflict_on": ["slug"], "strategy": strategy}
    )
    assert result == {"inserted": 0, "updated": 2}


def test_two_merges_of_one_table_in_one_transaction(db: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["ItemBulkUpsertNode"], "first", {"data": items(50), "conflict_on": ["sku"]})
    workflow.add_node(db.nodes["ItemBulkUpsertNode"], "second", {"data": items(60, name="x"), "conflict_on": ["sku"]})
    workflow.add_connection("first", "inserted", "second", "batch_size")
    results, _ = LocalRuntime().execute(workflow.build(), transaction=True)
    assert results["first"] == {"inserted": 50, "updated": 0}
    assert results["second"] == {"inserted": 10, "updated": 50}
    assert len(table(db)) == 60


@pytest.mark.parametrize("strategy", ["unnest", "executemany"])
def test_each_update_strategy_counts_real_rows(db: DataFlow, strategy: str) -> None:
    ids = run_node(db, "ItemBulkCreateNode", {"data": items(20), "return_ids": True})["ids"]
    data = [{"id": key, "qty": 1000 + key, "name": "renamed"} for key in ids[:12]] + [
        {"id": 999_999, "qty": 1, "name": "x"}
    ]
    result = run_node(db, "ItemBulkUpdateNode", {"data": data, "strategy": strategy, "batch_size": 5})
    assert result == {"updated": 12}
    rows = {row[0]: (row[1], row[2]) for row in fetch(db.label, 'SELECT id, name, qty FROM "item"')}
    assert all(rows[key] == ("renamed", 1000 + key) for key in ids[:12])
    assert all(rows[key][0] != "renamed" for key in ids[12:])


@pytest.mark.parametrize("strategy", ["unnest", "executemany"])
def test_update_skips_records_outside_the_scope(db: DataFlow, strategy: str) -> None:
    ids = run_node(
        db,
        "PostBulkCreateNode",
        {"data": [{"title": "a", "slug": "a"}, {"title": "b", "slug": "b"}], "return_ids": True},
    )["ids"]
    run_node(db, "PostDeleteNode", {"id": ids[0]})
    data = [{"id": ids[0], "title": "new"}, {"id": ids[1], "title": "new"}]
    assert run_node(db, "PostBulkUpdateNode", {"data": data, "strategy": strategy}) == {"updated": 1}
    assert [row[0] for row in fetch(db.label, 'SELECT title FROM "post" ORDER BY id')] == ["a", "new"]


@pytest.mark.parametrize("strategy", ["unnest", "in_list"])
def test_each_delete_strategy_deletes_the_same_rows(db: DataFlow, strategy: str) -> None:
    ids = run_node(db, "ItemBulkCreateNode", {"data": items(30), "return_ids": True})["ids"]
    result = run_node(db, "ItemBulkDeleteNode", {"ids": [*ids[::3], 999_999], "strategy": strategy, "batch_size": 4})
    assert result == {"deleted": 10}
    remaining = {row[0] for row in fetch(db.label, 'SELECT id FROM "item"')}
    assert remaining == set(ids) - set(ids[::3])


@pytest.mark.parametrize("strategy", ["unnest", "in_list"])
def test_delete_of_a_soft_delete_model_marks_rows_in_scope_once(db: DataFlow, strategy: str) -> None:
    data = [{"title": str(i), "slug": str(i)} for i in range(6)]
    ids = run_node(db, "PostBulkCreateNode", {"data": data, "return_ids": True})["ids"]
    assert run_node(db, "PostBulkDeleteNode", {"ids": ids[:4], "strategy": strategy}) == {"deleted": 4}
    assert run_node(db, "PostBulkDeleteNode", {"ids": ids[:5], "strategy": strategy}) == {"deleted": 1}
    assert fetch(db.label, 'SELECT count(*) FROM "post" WHERE deleted_at IS NOT NULL')[0][0] == 5
    assert run_node(db, "PostCountNode") == {"count": 1}


def test_bad_row_fails_before_the_copy(db: DataFlow) -> None:
    run_node(db, "ItemBulkCreateNode", {"data": items(3)})
    data = items(100, start=3)
    data[57]["qty"] = "many"
    error = failure(db, "ItemBulkCreateNode", {"data": data, "strategy": "copy"})
    assert isinstance(error, ValidationError) and error.field == "qty" and "data[57]" in str(error)
    assert len(table(db)) == 3


def test_copy_of_many_rows(db: DataFlow) -> None:
    assert run_node(db, "ItemBulkCreateNode", {"data": items(20_000)}) == {"inserted": 20_000}
    assert fetch(db.label, 'SELECT count(*), sum(qty) FROM "item"')[0][:] == (20_000, sum(range(20_000)))


def test_copy_falls_back_to_unnest_under_row_level_security(dataflow_database_url: str) -> None:
    # Superusers bypass row-level security (COPY works for them): connect as an ordinary role that owns
    # the table, which FORCE ROW LEVEL SECURITY holds to the policy.
    role = f"dfrls_{uuid.uuid4().hex[:8]}"
    schema = option(dataflow_database_url, "schema")
    admin(dataflow_database_url, f'CREATE ROLE "{role}" LOGIN', f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{role}"')
    parsed = DatabaseURL.parse(dataflow_database_url)
    url = DatabaseURL(
        scheme=parsed.scheme, username=role, host=parsed.host, port=parsed.port, database=parsed.database,
        query=parsed.query,
    ).render(hide_password=False)  # fmt: skip
    instance = DataFlow(url)
    try:

        @instance.model
        class Item:
            sku: str
            name: str
            qty: int = 0

        run_node(instance, "ItemCountNode")  # creates the table, owned by the role
        admin(
            url,
            'ALTER TABLE "item" ENABLE ROW LEVEL SECURITY',
            'ALTER TABLE "item" FORCE ROW LEVEL SECURITY',
            'CREATE POLICY "open" ON "item" USING (true) WITH CHECK (true)',
        )
        with pytest.raises(asyncpg.FeatureNotSupportedError, match="row-level security"):
            asyncio.run(copy_one_row(url))  # the server really refuses COPY FROM here
        result = run_node(instance, "ItemBulkCreateNode", {"data": items(5), "return_ids": True})
        # The refused COPY took keys from the sequence first: the ids are the rows' all the same.
        assert result["inserted"] == 5
        assert result["ids"] == [row[0] for row in fetch(url, 'SELECT id FROM "item" ORDER BY sku')]
        assert isinstance(instance.dialect, PostgresDialect) and instance.dialect.rls_tables == {'"item"'}
        # Remembered: the next request picks unnest directly, inside a run's transaction too.
        workflow = WorkflowBuilder()
        workflow.add_node(instance.nodes["ItemBulkCreateNode"], "node", {"data": items(5, start=5)})
        results, _ = LocalRuntime().execute(workflow.build(), transaction=True)
        assert results["node"] == {"inserted": 5}
        assert table(instance) == [(f"sku-{i}", f"item {i}", i) for i in range(10)]
    finally:
        instance.close()
        admin(dataflow_database_url, f'DROP OWNED BY "{role}" CASCADE', f'DROP ROLE "{role}"')


def admin(url: str, *statements: str) -> None:
    """``statements`` on a plain connection to ``url``'s database and schema, as ``url``'s user."""

    async def go() -> None:
        connection = await connect(url)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(go())


async def connect(url: str) -> asyncpg.Connection:
    schema = option(url, "schema")
    return await asyncpg.connect(plain_url(url), server_settings={"search_path": f'"{schema}"'})


async def copy_one_row(url: str) -> None:
    connection = await connect(url)
    try:
        await connection.copy_records_to_table("item", columns=["sku", "name", "qty"], records=[("x", "x", 1)])
    finally:
        await connection.close()


def test_keys_of_a_sequence_that_skips_are_the_stored_ones(db: DataFlow) -> None:
    """Consecutive keys travel as their two ends; others (here a sequence stepping by 3) as the full list."""
    first = run_node(db, "ItemBulkCreateNode", {"data": items(4), "return_ids": True})["ids"]
    assert first == list(range(first[0], first[0] + 4))
    db.sql(
        "DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s INCREMENT BY 3', pg_get_serial_sequence('item', 'id')); END $$",
        result="none",
    )
    data = [{"sku": f"step-{i}", "name": "n"} for i in range(5)]
    ids = run_node(db, "ItemBulkCreateNode", {"data": data, "return_ids": True})["ids"]
    assert [b - a for a, b in itertools.pairwise(ids)] == [3, 3, 3, 3]
    stored = {row[1]: row[0] for row in fetch(db.label, "SELECT id, sku FROM \"item\" WHERE sku LIKE 'step-%'")}
    assert [stored[f"step-{i}"] for i in range(5)] == ids


def test_ids_of_many_copied_rows_follow_row_order(db: DataFlow) -> None:
    """COPY fills the keys from the sequence; they are read back after it, in row order."""
    run_node(db, "ItemBulkCreateNode", {"data": items(3, start=900_000)})  # the sequence is not at 1
    data = list(reversed(items(23_000)))
    result = run_node(db, "ItemBulkCreateNode", {"data": data, "return_ids": True})
    assert result["inserted"] == 23_000 and result["ids"] == list(range(result["ids"][0], result["ids"][0] + 23_000))
    by_id = {row[0]: row[1] for row in fetch(db.label, 'SELECT id, sku FROM "item"')}
    assert [by_id[i] for i in result["ids"]] == [row["sku"] for row in data]


def test_copied_keys_interleaved_with_other_writers_rows_are_read_back_exactly(db: DataFlow) -> None:
    """The sequence steps by 2 and another writer's committed rows fill every gap of the last ``n`` numbers:
    the range holds ``n`` rows, but only half of them are this COPY's (its ``xmin`` tells), so the keys
    are read back by that, not assumed consecutive."""
    db.sql(
        "DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s INCREMENT BY 2', pg_get_serial_sequence('item', 'id')); "
        "PERFORM setval(pg_get_serial_sequence('item', 'id'), 1000); END $$",
        result="none",
    )
    # This COPY's 6 rows will get 1002, 1004, ..., 1012; the range it ends (1007..1012) gets other rows at 1007..1011.
    others = [{"id": 1007 + 2 * i, "sku": f"other-{i}", "name": "o"} for i in range(3)]
    run_node(db, "ItemBulkCreateNode", {"data": others})
    data = [{"sku": f"mine-{i}", "name": "m"} for i in range(6)]
    ids = run_node(db, "ItemBulkCreateNode", {"data": data, "return_ids": True})["ids"]
    assert ids == [1002, 1004, 1006, 1008, 1010, 1012]
    stored = {row[1]: row[0] for row in fetch(db.label, "SELECT id, sku FROM \"item\" WHERE sku LIKE 'mine-%'")}
    assert [stored[f"mine-{i}"] for i in range(6)] == ids


@pytest.mark.parametrize("bad", [3, 21_500])
def test_a_bad_row_of_a_copy_with_ids_names_its_row_and_writes_nothing(db: DataFlow, bad: int) -> None:
    """In the first slice or a late one: the same error, no row, and the connection fit for the next run."""
    run_node(db, "ItemBulkCreateNode", {"data": items(2)})
    data = items(23_000, start=2)
    data[bad]["qty"] = "many"
    error = failure(db, "ItemBulkCreateNode", {"data": data, "return_ids": True})
    assert isinstance(error, ValidationError) and error.field == "qty" and f"data[{bad}]" in str(error)
    assert len(table(db)) == 2
    assert run_node(db, "ItemBulkCreateNode", {"data": items(3, start=90_000), "return_ids": True})["inserted"] == 3
    assert len(table(db)) == 5


def test_concurrent_copies_with_ids_each_get_their_own_rows_keys(db: DataFlow) -> None:
    """Three runs COPY at once, so their sequence numbers may interleave: each gets exactly its rows' keys."""

    async def load(batch: int) -> list[int]:
        data = [{"sku": f"b{batch}-{i}", "name": "n"} for i in range(8_000)]
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["ItemBulkCreateNode"], "load", {"data": data, "return_ids": True})
        results, _ = await AsyncLocalRuntime().execute_async(workflow.build())
        return list(results["load"]["ids"])

    async def together() -> list[list[int]]:
        return list(await asyncio.gather(*(load(batch) for batch in range(3))))

    runs = asyncio.run(together())
    stored = {row[1]: row[0] for row in fetch(db.label, 'SELECT id, sku FROM "item"')}
    for batch, ids in enumerate(runs):
        assert ids == [stored[f"b{batch}-{i}"] for i in range(8_000)]
    assert len(stored) == 24_000


def test_copied_keys_that_a_trigger_changed_are_an_error_naming_the_model(db: DataFlow) -> None:
    db.create_tables()
    db.sql(
        "DO $$ BEGIN "
        "CREATE FUNCTION shift_id() RETURNS trigger LANGUAGE plpgsql AS "
        "'BEGIN NEW.id := NEW.id + 1000000; RETURN NEW; END'; "
        "CREATE TRIGGER shift BEFORE INSERT ON item FOR EACH ROW EXECUTE FUNCTION shift_id(); END $$",
        result="none",
    )
    error = failure(db, "ItemBulkCreateNode", {"data": items(5), "return_ids": True})
    assert "Item" in str(error) and "could not be read back" in str(error)
    assert table(db) == []
