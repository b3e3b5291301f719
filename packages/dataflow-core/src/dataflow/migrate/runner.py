"""Planning and applying migrations for one ``DataFlow`` instance."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import DataFlowError, MigrationError
from ..session import Session
from .diff import HISTORY_TABLE, parse_renames, plan_changes
from .editor import SchemaEditor
from .files import next_path, read_directory, render_file
from .history import checksum, ensure_history, read_history, record
from .live import LiveTable
from .steps import AddColumn, CreateTable, Plan, Review, Statement, Step

if TYPE_CHECKING:
    from ..database import DataFlow


@attrs.frozen
class Applied:
    """What one ``apply`` did."""

    name: str
    steps: tuple[str, ...]
    checksum: str


class Migrator:
    """Diff, plan and apply for the models of ``db``."""

    def __init__(self, db: DataFlow) -> None:
        self.db = db

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """A session outside any workflow run, and without the automatic table creation."""
        async with self.db.standalone_session() as session:
            yield session

    def editor(self, live: Mapping[str, LiveTable]) -> SchemaEditor:
        editor = self.db.dialect.schema_editor(self.db.schemas)
        editor.live = live
        return editor

    async def live(self, session: Session) -> dict[str, LiveTable]:
        introspector = self.db.dialect.introspector()
        tables = await session.call(introspector.tables, sql="-- introspect", operation="introspect")
        return {name: table for name, table in tables.items() if name != HISTORY_TABLE}

    async def plan(self, renames: Iterable[str] = ()) -> Plan:
        """The steps between the live schema and the models (nothing is applied).

        Each step comes with its SQL and, where the rows can be counted before
        anything runs, how many of them would make ``apply`` refuse it:
        ``print(plan)`` shows both.
        """
        async with self.session() as session:
            live = await self.live(session)
            plan = plan_changes(self.db.schemas.values(), live, self.editor(live), parse_renames(renames))
            return attrs.evolve(plan, reviews=await self._review(session, plan, live))

    async def _review(self, session: Session, plan: Plan, live: Mapping[str, LiveTable]) -> tuple[Review, ...]:
        # A fresh editor: one that rendered a plan remembers what it rebuilt (SQLite) and would render less.
        editor = self.editor(live)
        reviews = []
        for step in plan.steps:
            statements = tuple(step.statements(editor))
            if step.offending_rows_sql(editor) is None:
                reviews.append(Review(statements))
                continue
            try:
                count = await offending(session, step, editor)
            except DataFlowError:
                # The count needs an earlier step applied (a renamed or new column): apply counts it then.
                reviews.append(Review(statements))
                continue
            reviews.append(Review(statements, checked=True, offending=count))
        return tuple(reviews)

    async def render(self, renames: Iterable[str] = ()) -> str:
        async with self.session() as session:
            live = await self.live(session)
            editor = self.editor(live)
            return plan_changes(self.db.schemas.values(), live, editor, parse_renames(renames)).render(editor)

    def refuse_existing_schema(self, action: str) -> None:
        """``existing_schema=True`` leaves the tables alone: refuse ``action`` before any statement."""
        if self.db.config.existing_schema:
            raise MigrationError(
                f"{action} refused: this DataFlow is existing_schema=True, so it never creates or alters tables; "
                "change the database with your own tools, or construct DataFlow without existing_schema to migrate"
            )

    async def history(self) -> list[dict[str, Any]]:
        async with self.session() as session:
            if self.db.config.existing_schema and HISTORY_TABLE not in await self._table_names(session):
                return []  # reading the history must not create its table here
            return await read_history(session, await ensure_history(session))

    async def _table_names(self, session: Session) -> set[str]:
        introspector = self.db.dialect.introspector()
        return set(await session.call(introspector.tables, sql="-- introspect", operation="introspect"))

    async def apply(
        self, *, allow_destructive: bool = False, renames: Iterable[str] = (), name: str = "auto"
    ) -> Applied | None:
        """Bring the live schema to the models, under the database's migration lock.

        Destructive steps need ``allow_destructive``; a step that would lose or
        break rows is refused with their count either way. On databases with
        transactional DDL the whole plan is one transaction; elsewhere each step
        is recorded as it completes, so a failure is reported exactly.
        """
        self.refuse_existing_schema("migrate apply")
        hints = parse_renames(renames)
        async with self.session() as session:
            editor = self.db.dialect.schema_editor(self.db.schemas)
            async with editor.lock(session):
                history = await ensure_history(session)
                live = await self.live(session)
                editor.live = live
                plan = plan_changes(self.db.schemas.values(), live, editor, hints)
                if plan.empty:
                    return None
                refuse_unsafe(plan, allow_destructive)
                if self.db.dialect.capabilities.transactional_ddl:
                    return await self._apply_atomically(session, editor, plan, history, name)
                # Without transactional DDL every check runs first, so that a refusal changes nothing.
                for step in plan.steps:
                    await check_rows(session, step, editor)
                return await self._apply_step_by_step(session, editor, plan, history, name)

    async def _apply_atomically(
        self, session: Session, editor: SchemaEditor, plan: Plan, history: Any, name: str
    ) -> Applied:
        every: list[Statement] = []
        total = len(plan.steps)
        async with session.atomic():
            for number, step in enumerate(plan.steps, 1):
                # Checked just before the step: earlier steps (a rename, a new column) are visible.
                await check_rows(session, step, editor)
                statements = step.statements(editor)
                try:
                    await run_statements(session, statements)
                except DataFlowError as exc:
                    raise MigrationError(
                        f"step {number} of {total} ({step.describe()}) failed: {exc.message}; nothing was applied"
                    ) from exc
                every += statements
            await record(session, history, name, every)
        return Applied(name=name, steps=tuple(s.describe() for s in plan.steps), checksum=checksum(every))

    async def _apply_step_by_step(
        self, session: Session, editor: SchemaEditor, plan: Plan, history: Any, name: str
    ) -> Applied:
        every: list[Statement] = []
        total = len(plan.steps)
        for number, step in enumerate(plan.steps, 1):
            statements = step.statements(editor)
            try:
                await run_statements(session, statements)
            except DataFlowError as exc:
                done = f"steps 1-{number - 1} were applied and recorded" if number > 1 else "nothing was applied"
                raise MigrationError(
                    f"step {number} of {total} ({step.describe()}) failed: {exc.message}; {done}. "
                    "Fix the cause and apply again: the plan is computed afresh from the live schema."
                ) from exc
            await record(session, history, f"{name} [{number}/{total}] {step.describe()}", statements)
            every += statements
        return Applied(name=name, steps=tuple(s.describe() for s in plan.steps), checksum=checksum(every))

    async def make_file(self, directory: Path, name: str, renames: Iterable[str] = ()) -> Path | None:
        """Write the current plan as the next migration file; None when there is nothing to do."""
        async with self.session() as session:
            live = await self.live(session)
            editor = self.editor(live)
            plan = plan_changes(self.db.schemas.values(), live, editor, parse_renames(renames))
        if plan.empty:
            return None
        directory.mkdir(parents=True, exist_ok=True)
        path = next_path(directory, name)
        steps = [s.describe() + ("  (DESTRUCTIVE)" if s.destructive else "") for s in plan.steps]
        path.write_text(render_file(self.db.dialect.name, steps + list(plan.notes), plan.statements(editor)))
        return path

    async def apply_files(self, directory: Path) -> list[str]:
        """Apply the migration files of ``directory`` that are not in the history yet, in order.

        A file already applied must still match its recorded checksum. Returns
        the names of the files applied now.
        """
        self.refuse_existing_schema("migrate apply --directory")
        files = read_directory(directory)
        for file in files:
            if file.dialect != self.db.dialect.name:
                raise MigrationError(f"{file.name} was written for {file.dialect}, not {self.db.dialect.name}")
        applied_now: list[str] = []
        async with self.session() as session:
            editor = self.db.dialect.schema_editor(self.db.schemas)
            async with editor.lock(session):
                history = await ensure_history(session)
                recorded = {row["name"]: row["checksum"] for row in await read_history(session, history)}
                for file in files:
                    if file.name in recorded:
                        if recorded[file.name] != file.checksum:
                            raise MigrationError(
                                f"{file.name} was edited after it was applied: its statements no longer match "
                                "the checksum in dataflow_migrations; write a new migration instead"
                            )
                        continue
                    if self.db.dialect.capabilities.transactional_ddl:
                        async with session.atomic():
                            await run_statements(session, file.statements)
                            await record(session, history, file.name, file.statements)
                    else:
                        try:
                            await run_statements(session, file.statements)
                        except DataFlowError as exc:
                            raise MigrationError(
                                f"{file.name} failed: {exc.message}; files before it are applied and recorded "
                                "(MySQL cannot roll DDL back: check what this file changed before running it again)"
                            ) from exc
                        await record(session, history, file.name, file.statements)
                    applied_now.append(file.name)
        return applied_now

    async def ensure_development_schema(self, session: Session) -> list[str]:
        """Create missing tables and add missing columns (a NOT NULL one filled with its default);
        never drop or alter.

        Returns what else differs, for a warning. A NOT NULL column that cannot
        be added by itself (its table has other pending changes) is a
        ``MigrationError``: without it every write of the model would fail.
        """
        editor = self.db.dialect.schema_editor(self.db.schemas)
        async with editor.lock(session):
            live = await self.live(session)
            editor.live = live
            plan = plan_changes(self.db.schemas.values(), live, editor)
            empty = set()
            for step in plan.steps:
                # A required column can be added to a table without rows: nothing lacks a value.
                if isinstance(step, AddColumn) and step.field.required and not await offending(session, step, editor):
                    empty.add(step.table_name)
            automatic = development_steps(plan, editor, empty)
            for step in plan.steps:
                if step in automatic:
                    await run_statements(session, step.statements(editor))
        return [s.describe() for s in plan.steps if s not in automatic]

    async def check_production_schema(self, session: Session) -> None:
        """Raise ``MigrationError`` with the diff when the live schema does not match the models."""
        live = await self.live(session)
        editor = self.editor(live)
        plan = plan_changes(self.db.schemas.values(), live, editor)
        if not plan.empty and self.db.config.existing_schema:
            raise MigrationError(
                "existing_schema=True and the models do not match the tables, which DataFlow leaves alone; making "
                "the tables match the models would: "
                + "; ".join(step.describe() for step in plan.steps)
                + ". Change the models to match (`dataflow inspectdb` prints the tables as models)"
            )
        if not plan.empty:
            plan = attrs.evolve(plan, reviews=await self._review(session, plan, live))
            raise MigrationError(
                "the database schema does not match the models; review and run `dataflow migrate apply` "
                f"(or db.migrate()):\n{plan}"
            )


def development_steps(plan: Plan, editor: SchemaEditor, empty_tables: Collection[str] = ()) -> list[Step]:
    """The steps development mode applies by itself: nothing that rewrites or loses data.

    New tables, new nullable columns, and new NOT NULL columns filled with
    their default (or required ones, on ``empty_tables``); where the editor
    adds such a column by rebuilding the table (SQLite), only when nothing
    else about the table changes, since the rebuild would apply that too.
    Raises ``MigrationError`` for a NOT NULL column it cannot add: without it
    every write of the model would fail.
    """
    chosen: list[Step] = []
    for step in plan.steps:
        if isinstance(step, AddColumn) and not step.field.nullable:
            others = [
                s
                for s in plan.steps
                if s.table_name == step.table_name and not _safe(s) and not _filled(s, empty_tables)
            ]
            _refuse_in_development(step, [] if editor.adds_in_place(step.field) else others, empty_tables)
            chosen.append(step)
        elif _safe(step):
            chosen.append(step)
    return chosen


def _safe(step: Step) -> bool:
    if isinstance(step, AddColumn):
        return step.field.nullable and step.field.references is None
    return isinstance(step, CreateTable)


def _filled(step: Step, empty_tables: Collection[str]) -> bool:
    """A new column that the rows already there get a value for (its default), or that has no rows to fill."""
    if not isinstance(step, AddColumn) or step.field.references is not None:
        return False
    return not step.field.required or step.table_name in empty_tables


def _refuse_in_development(step: AddColumn, others: list[Step], empty_tables: Collection[str]) -> None:
    field, model = step.field, step.schema.name
    if field.required and step.table_name not in empty_tables:
        reason = "has no default, so the rows already there would have no value for it"
    elif field.references is not None:
        reason = "is a foreign key, which must be checked against the rows"
    elif others:
        reason = f"comes with other pending changes to {step.table_name} ({'; '.join(s.describe() for s in others)})"
    else:
        return
    raise MigrationError(
        f"{model}.{field.name} is a new NOT NULL column that development mode does not add by itself: it {reason}. "
        "Review `dataflow migrate plan` and run `dataflow migrate apply` (or db.migrate())",
        model=model,
        field=field.name,
    )


def refuse_unsafe(plan: Plan, allow_destructive: bool) -> None:
    if plan.destructive and not allow_destructive:
        listed = "; ".join(step.describe() for step in plan.destructive)
        notes = (" " + " ".join(plan.notes)) if plan.notes else ""
        raise MigrationError(
            f"the plan has destructive steps ({listed}); review them and pass allow_destructive=True "
            f"(--allow-destructive) to apply.{notes}"
        )


async def offending(session: Session, step: Step, editor: SchemaEditor) -> int:
    """How many existing rows ``step`` would lose or break (0 when it checks none)."""
    query = step.offending_rows_sql(editor)
    if query is None:
        return 0
    rows = await session.fetch(query[0], query[1], operation="migrate_check")
    return int(rows[0][0])


async def check_rows(session: Session, step: Step, editor: SchemaEditor) -> None:
    """Refuse a step that would break existing rows, with how many."""
    count = await offending(session, step, editor)
    if count:
        raise MigrationError(
            f"{step.describe()}: refused, {count} existing row(s) would be lost or violate the new schema"
        )


async def run_statements(session: Session, statements: Iterable[Statement]) -> None:
    for sql, params in statements:
        await session.execute(sql, params, operation="migrate")
