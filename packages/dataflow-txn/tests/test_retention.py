"""Retention: finished sagas and final idempotency markers older than an age are deleted, nothing else."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from retention_helpers import account_saga, backdate, compensated, completed, stored, unfinished
from txn_helpers import create_account, open_accounts, run

from dataflow import ConfigError, DataFlow
from dataflow_txn import RetentionReport, purge_history, run_once
from dataflow_txn.cli import format_duration, parse_duration, txn
from dataflow_txn.idempotency import fence
from dataflow_txn.saga.keys import marker_key, saga_ids_of_marker

MONTH = timedelta(days=30)


def test_old_finished_sagas_go_with_their_steps_and_step_markers(any_url: str) -> None:
    async def main() -> None:
        db = open_accounts(any_url)
        try:
            saga = account_saga(db, db)
            await completed(saga, "done-1")
            await compensated(saga, "undone-1")
            await backdate(db, sagas=("done-1", "undone-1"))
            before = await stored(db)
            assert before.sagas == {"done-1": "completed", "undone-1": "compensated"}
            assert len(before.steps) == 4 and len(before.markers) == 5  # undone-1: open, open:undo, second (fenced)
            report = await purge_history(db, older_than=MONTH)
            assert report == RetentionReport(sagas=2, saga_steps=4, idempotency_keys=5)
            after = await stored(db)
            assert (after.sagas, after.steps, after.markers) == ({}, set(), {})
        finally:
            await db.close_async()

    run(main())


def test_recent_finished_sagas_and_markers_stay(any_url: str) -> None:
    async def main() -> None:
        db = open_accounts(any_url)
        try:
            saga = account_saga(db, db)
            await completed(saga, "old")
            await completed(saga, "recent")
            await run_once(db, "recent-key", create_account(db, "r").build())
            await backdate(db, sagas=("old",))
            await backdate(db, sagas=("recent",), days=29)
            assert await purge_history(db, older_than=MONTH) == RetentionReport(1, 2, 2)
            after = await stored(db)
            assert after.sagas == {"recent": "completed"}
            assert after.steps == {("recent", "open"), ("recent", "second")}
            assert set(after.markers) == {"saga:recent:open", "saga:recent:second", "recent-key"}
        finally:
            await db.close_async()

    run(main())


def test_running_and_compensating_sagas_stay_however_old(any_url: str) -> None:
    async def main() -> None:
        db = open_accounts(any_url)
        try:
            await unfinished(db, db, "stuck-running")
            await unfinished(db, db, "stuck-compensating", compensating=True)
            await backdate(db, sagas=("stuck-running", "stuck-compensating"), days=3650)
            before = await stored(db)
            # Naming the log makes step markers eligible too: these stay, since recovery needs them.
            report = await purge_history(db, older_than=MONTH, saga_logs=[db])
            assert report == RetentionReport(0, 0, 0)
            assert await stored(db) == before
            assert before.sagas == {"stuck-running": "running", "stuck-compensating": "compensating"}
            assert set(before.markers) == {"saga:stuck-running:open", "saga:stuck-compensating:open"}
        finally:
            await db.close_async()

    run(main())


def test_old_run_once_markers_go_whether_done_or_fenced(any_url: str) -> None:
    async def main() -> None:
        db = open_accounts(any_url)
        try:
            await run_once(db, "old-done", create_account(db, "a").build())
            await run_once(db, "new-done", create_account(db, "b").build())
            assert await fence(db, "old-fenced") is None
            await backdate(db, keys=("old-done", "old-fenced"))
            assert (await stored(db)).markers == {"old-done": "done", "new-done": "done", "old-fenced": "fenced"}
            assert await purge_history(db, older_than=MONTH) == RetentionReport(idempotency_keys=2)
            assert (await stored(db)).markers == {"new-done": "done"}
            # A purged key is new again: the work runs once more.
            _, replayed = await run_once(db, "old-done", create_account(db, "c").build())
            assert not replayed
        finally:
            await db.close_async()

    run(main())


def test_small_batches_delete_everything_eligible(any_url: str) -> None:
    async def main() -> None:
        db = open_accounts(any_url)
        try:
            saga = account_saga(db, db)
            keys = tuple(f"batch-{n}" for n in range(5))
            for key in keys:
                await completed(saga, key)
                await run_once(db, f"plain-{key}", create_account(db, f"p{key}").build())
            await unfinished(db, db, "stuck")
            await backdate(db, sagas=(*keys, "stuck"), keys=tuple(f"plain-{key}" for key in keys))
            report = await purge_history(db, older_than=MONTH, batch_size=2)
            assert report == RetentionReport(sagas=5, saga_steps=10, idempotency_keys=15)
            after = await stored(db)
            assert after.sagas == {"stuck": "running"} and after.markers == {"saga:stuck:open": "done"}
            assert await purge_history(db, older_than=MONTH, batch_size=2) == RetentionReport()
        finally:
            await db.close_async()

    run(main())


def test_step_markers_on_another_database_go_only_when_their_log_is_named(sqlite_url: str, server_url: str) -> None:
    async def main() -> None:
        log, steps = open_accounts(sqlite_url), open_accounts(server_url)
        try:
            await completed(account_saga(log, steps), "done-1")
            await unfinished(log, steps, "stuck-1")
            await backdate(log, sagas=("done-1", "stuck-1"))
            await backdate(steps, keys=("saga:done-1:open", "saga:done-1:second", "saga:stuck-1:open"))
            # Without the log, the steps' database cannot tell whether those sagas are over.
            assert await purge_history(steps, older_than=MONTH) == RetentionReport()
            assert await purge_history(log, older_than=MONTH) == RetentionReport(sagas=1, saga_steps=2)
            # done-1 is gone from its log (purged: it was finished); stuck-1 is still running there.
            report = await purge_history(steps, older_than=MONTH, saga_logs=[log])
            assert report == RetentionReport(idempotency_keys=2)
            assert (await stored(steps)).markers == {"saga:stuck-1:open": "done"}
            assert (await stored(log)).sagas == {"stuck-1": "running"}
        finally:
            await log.close_async()
            await steps.close_async()

    run(main())


@pytest.mark.parametrize("age", [timedelta(0), timedelta(seconds=-1), 30, "30d", None])
def test_an_age_that_is_not_a_positive_timedelta_is_refused(sqlite_url: str, age: object) -> None:
    db = DataFlow(sqlite_url)
    try:
        with pytest.raises(ConfigError, match=r"older_than must be a positive datetime\.timedelta") as caught:
            run(purge_history(db, older_than=age))  # type: ignore[arg-type]
        assert caught.value.field == "older_than"
        with pytest.raises(ConfigError, match="batch_size must be a positive integer"):
            run(purge_history(db, older_than=MONTH, batch_size=0))
    finally:
        db.close()


# -- the command ---------------------------------------------------------------------------


def test_the_purge_command_deletes_and_reports_in_json(any_url: str) -> None:
    async def setup() -> None:
        db = open_accounts(any_url)
        try:
            saga = account_saga(db, db)
            await completed(saga, "old")
            await completed(saga, "recent")
            await unfinished(db, db, "stuck")
            await backdate(db, sagas=("old", "stuck"))
        finally:
            await db.close_async()

    run(setup())
    result = CliRunner().invoke(txn, ["purge", "--database-url", any_url, "--older-than", "30d", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["sagas"], report["saga_steps"], report["idempotency_keys"]) == (1, 2, 2)
    assert report["older_than"] == MONTH.total_seconds()
    db = open_accounts(any_url)
    try:
        assert run(stored(db)).sagas == {"recent": "completed", "stuck": "running"}
    finally:
        db.close()


def test_the_purge_command_prints_counts_and_reads_the_url_from_the_environment(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETENTION_TEST_URL", sqlite_url)
    result = CliRunner().invoke(txn, ["purge", "--database-url", "$RETENTION_TEST_URL", "--older-than", "12h"])
    assert result.exit_code == 0, result.output
    assert "deleted 0 sagas, 0 saga steps and 0 idempotency keys older than 12h\n" in result.output


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0d", "must be more than zero"),
        ("-5d", "must be more than zero"),
        ("30", "is not a duration"),
        ("30x", "is not a duration"),
        ("1.5d", "is not a duration"),
        ("", "is not a duration"),
        ("99999999999999w", "is too long"),
    ],
)
def test_the_purge_command_refuses_a_bad_duration(sqlite_url: str, text: str, why: str) -> None:
    result = CliRunner().invoke(txn, ["purge", "--database-url", sqlite_url, "--older-than", text])
    assert result.exit_code == 2
    assert "Invalid value for '--older-than'" in result.output and why in result.output


def test_the_purge_command_needs_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATAFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATAFLOW_MODELS", raising=False)
    result = CliRunner().invoke(txn, ["purge", "--older-than", "30d"])
    assert result.exit_code == 2 and "say which database" in result.output


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("1d12h", timedelta(hours=36)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
    ],
)
def test_durations_read_as_numbers_with_units(text: str, age: timedelta) -> None:
    assert parse_duration(text) == age


@pytest.mark.parametrize(
    ("text", "shown"), [("30d", "30d"), ("12h", "12h"), ("90m", "1h30m"), ("1d12h", "1d12h"), ("2w", "14d")]
)
def test_the_purge_command_shows_the_age_as_it_is_written(sqlite_url: str, text: str, shown: str) -> None:
    result = CliRunner().invoke(txn, ["purge", "--database-url", sqlite_url, "--older-than", text])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(f"idempotency keys older than {shown}\n")
    assert format_duration(parse_duration(shown)) == shown


def test_a_step_marker_key_names_every_saga_it_may_belong_to() -> None:
    assert saga_ids_of_marker(marker_key("order-1", "open")) == ("order-1",)
    # Saga ids may hold ':' and a step may be named "undo": both readings are kept, so both are protected.
    assert saga_ids_of_marker(marker_key("a", "b", undo=True)) == ("a:b", "a")
    assert saga_ids_of_marker("plain-key") == ()
