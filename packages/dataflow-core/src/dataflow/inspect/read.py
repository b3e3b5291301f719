"""Reading the live tables ``dataflow inspectdb`` describes, through the dialect's introspector."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..migrate.live import LiveTable
from ..migrate.runner import Migrator
from ..schema import suggest

if TYPE_CHECKING:
    from ..database import DataFlow


async def read_tables(db: DataFlow, names: Sequence[str] = ()) -> dict[str, LiveTable]:
    """The live tables of ``db`` (all but DataFlow's own history), or only ``names``; an unknown name is an error."""
    migrator = Migrator(db)
    async with db.standalone_session() as session:
        tables = await migrator.live(session)
    if not names:
        return dict(sorted(tables.items()))
    missing = [name for name in names if name not in tables]
    if missing:
        raise ConfigError(
            f"--tables names {missing[0]!r}, which is not a table of this database{suggest(missing[0], tables)}",
            field="tables",
        )
    return {name: tables[name] for name in names}
