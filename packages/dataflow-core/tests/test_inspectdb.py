"""`dataflow inspectdb` and existing_schema=True against a small Chinook-like database, on every backend."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataflow import DataFlow
from dataflow.errors import MigrationError
from dataflow.testing.servers import (  # noqa: F401 - fixtures
    any_database_url,
    fresh_database,
    postgres_session_database,
)

# Column types as each backend's Chinook spells them.
TYPES = {
    "sqlite": {"int": "INTEGER", "text": "NVARCHAR", "money": "NUMERIC(10,2)", "time": "DATETIME", "kind": "TEXT"},
    "postgresql": {"int": "INTEGER", "text": "VARCHAR", "money": "NUMERIC(10,2)", "time": "TIMESTAMP", "kind": "TEXT"},
    "mysql": {"int": "INT", "text": "VARCHAR", "money": "DECIMAL(10,2)", "time": "DATETIME", "kind": "VARCHAR(10)"},
}


def chinook(scheme: str) -> list[str]:
    """Artist, Album, Track (natural keys, PascalCase), Employee.ReportsTo, PlaylistTrack's composite key."""
    q = (lambda n: f"`{n}`") if scheme == "mysql" else (lambda n: f'"{n}"')
    t = TYPES[scheme]
    return [
        f"CREATE TABLE {q('Artist')} ({q('ArtistId')} {t['int']} NOT NULL PRIMARY KEY, {q('Name')} {t['text']}(120))",
        f"CREATE TABLE {q('Album')} ({q('AlbumId')} {t['int']} NOT NULL PRIMARY KEY, "
        f"{q('Title')} {t['text']}(160) NOT NULL, {q('ArtistId')} {t['int']} NOT NULL, "
        f"CONSTRAINT {q('FK_AlbumArtistId')} FOREIGN KEY ({q('ArtistId')}) REFERENCES {q('Artist')} ({q('ArtistId')}))",
        f"CREATE INDEX {q('IFK_AlbumArtistId')} ON {q('Album')} ({q('ArtistId')})",
        f"CREATE TABLE {q('Track')} ({q('TrackId')} {t['int']} NOT NULL PRIMARY KEY, "
        f"{q('Name')} {t['text']}(200) NOT NULL, {q('AlbumId')} {t['int']}, "
        f"{q('UnitPrice')} {t['money']} NOT NULL, {q('Kind')} {t['kind']} NOT NULL DEFAULT 'audio' "
        f"CHECK ({q('Kind')} IN ('audio', 'video')), "
        f"CONSTRAINT {q('FK_TrackAlbumId')} FOREIGN KEY ({q('AlbumId')}) REFERENCES {q('Album')} ({q('AlbumId')}))",
        f"CREATE TABLE {q('Employee')} ({q('EmployeeId')} {t['int']} NOT NULL PRIMARY KEY, "
        f"{q('LastName')} {t['text']}(20) NOT NULL, {q('Email')} {t['text']}(60), "
        f"{q('HireDate')} {t['time']}, {q('ReportsTo')} {t['int']}, "
        f"CONSTRAINT {q('UQ_EmployeeEmail')} UNIQUE ({q('Email')}), "
        f"CONSTRAINT {q('FK_EmployeeReportsTo')} FOREIGN KEY ({q('ReportsTo')}) "
        f"REFERENCES {q('Employee')} ({q('EmployeeId')}))",
        f"CREATE TABLE {q('Playlist')} ({q('PlaylistId')} {t['int']} NOT NULL PRIMARY KEY, "
        f"{q('Name')} {t['text']}(120))",
        f"CREATE TABLE {q('PlaylistTrack')} ({q('PlaylistId')} {t['int']} NOT NULL, "
        f"{q('TrackId')} {t['int']} NOT NULL, "
        f"CONSTRAINT {q('PK_PlaylistTrack')} PRIMARY KEY ({q('PlaylistId')}, {q('TrackId')}), "
        f"CONSTRAINT {q('FK_PTPlaylist')} FOREIGN KEY ({q('PlaylistId')}) "
        f"REFERENCES {q('Playlist')} ({q('PlaylistId')}), "
        f"CONSTRAINT {q('FK_PTTrack')} FOREIGN KEY ({q('TrackId')}) REFERENCES {q('Track')} ({q('TrackId')}))",
        f"INSERT INTO {q('Artist')} VALUES (1, 'AC/DC'), (2, 'Accept')",
        f"INSERT INTO {q('Album')} VALUES (1, 'For Those About To Rock', 1), (2, 'Balls to the Wall', 2)",
        f"INSERT INTO {q('Track')} VALUES (1, 'Fast As a Shark', 2, 0.99, 'audio'), (2, 'Restless', 2, 1.99, 'video')",
        f"INSERT INTO {q('Employee')} VALUES (1, 'Adams', 'andrew@chinook.test', '2002-08-14 00:00:00', NULL), "
        "(2, 'Edwards', 'nancy@chinook.test', '2002-05-01 00:00:00', 1)",
        f"INSERT INTO {q('Playlist')} VALUES (1, 'Music'), (2, 'Movies')",
        f"INSERT INTO {q('PlaylistTrack')} VALUES (1, 1), (1, 2), (2, 2)",
    ]


def execute(url: str, statements: list[str]) -> None:
    """Raw SQL through a DataFlow session (it knows the URL's schema option); DataFlow makes no table."""

    async def main() -> None:
        db = DataFlow(url, existing_schema=True)
        try:
            async with db.standalone_session() as session:
                for statement in statements:
                    await session.execute(statement)
        finally:
            await db.close_async()

    asyncio.run(main())


def tables(url: str) -> set[str]:
    async def main() -> set[str]:
        db = DataFlow(url, existing_schema=True)
        try:
            async with db.standalone_session() as session:
                return set(await session.call(db.dialect.introspector().tables, sql="-- introspect"))
        finally:
            await db.close_async()

    return asyncio.run(main())


def cli(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATAFLOW_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-c", "from dataflow.cli import run; run()", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def scheme(url: str) -> str:
    return url.partition(":")[0]


def test_inspectdb_round_trips_a_chinook_like_database(any_database_url: str, tmp_path: Path) -> None:  # noqa: F811
    url = any_database_url
    execute(url, chinook(scheme(url)))
    inspected = cli("inspectdb", "--database-url", url, url=url, cwd=tmp_path)
    assert inspected.returncode == 0, inspected.stderr
    source = inspected.stdout
    (tmp_path / "chinook_models.py").write_text(source)
    assert '"table": "PlaylistTrack"' in source
    assert re.search(r"ReportsTo: (Annotated\[)?Employee\b.* \| None = None", source)
    assert re.search(r"ArtistId: (Annotated\[)?Artist\b", source)
    assert "The primary key is composite (PlaylistId, TrackId)" in source
    assert '"unique": [("Email",)]' in source
    compile(source, "chinook_models.py", "exec")
    if scheme(url) == "sqlite":
        assert 'Kind: str = "audio"' in source  # SQLite does not report its CHECKs
    else:
        # PostgreSQL and MariaDB report a column's CHECK (col IN (...)): an Enum, its default a member.
        assert 'class TrackKind(enum.Enum):\n    """The values the CHECK on Kind admits."""' in source
        assert re.search(
            r"Kind: (TrackKind|Annotated\[TrackKind, ColumnType\(\"VARCHAR\(10\)\"\)\]) = TrackKind.AUDIO", source
        )
    if scheme(url) != "sqlite":  # SQLite's INTEGER PRIMARY KEY is the rowid, which it numbers
        assert "ArtistId is not numbered by the database: pass it on Create" in source

    plan = cli("migrate", "plan", "--models", "chinook_models:db", "--json", url=url, cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout) == {"steps": [], "notes": []}

    script = """
from dataflow import LocalRuntime, WorkflowBuilder
import chinook_models
wf = WorkflowBuilder()
wf.add_node("TrackListNode", "tracks", {"order_by": ["TrackId"]})
wf.add_node("ArtistReadNode", "artist", {"id": 2})
wf.add_node("EmployeeListNode", "reports", {"filter": {"ReportsTo": 1}})
wf.add_node("PlaylistTrackCountNode", "pairs", {"filter": {"TrackId": 2}})
wf.add_node("ArtistCreateNode", "new", {"ArtistId": 3, "Name": "Aerosmith"})
results, _ = LocalRuntime().execute(wf.build())
tracks = results["tracks"]["records"]
print(json.dumps({
    "tracks": [(t["Name"], str(t["UnitPrice"]), getattr(t["Kind"], "value", t["Kind"])) for t in tracks],
    "artist": results["artist"]["Name"],
    "reports": [e["LastName"] for e in results["reports"]["records"]],
    "pairs": results["pairs"]["count"],
    "new": results["new"],
}))
"""
    used = cli_script("import json\n" + script, url=url, cwd=tmp_path)
    assert used.returncode == 0, used.stderr
    outcome = json.loads(used.stdout)
    assert outcome["artist"] == "Accept"
    assert outcome["reports"] == ["Edwards"]
    assert outcome["pairs"] == 2
    assert outcome["new"] == {"ArtistId": 3, "Name": "Aerosmith"}
    assert [(name, float(price), kind) for name, price, kind in outcome["tracks"]] == [
        ("Fast As a Shark", 0.99, "audio"),
        ("Restless", 1.99, "video"),
    ]


def cli_script(code: str, *, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATAFLOW_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_generated_module_passes_ruff(any_database_url: str, tmp_path: Path) -> None:  # noqa: F811
    url = any_database_url
    execute(url, chinook(scheme(url)))
    source = cli("inspectdb", "--database-url", url, "--tables", "Employee,Track", url=url, cwd=tmp_path).stdout
    assert "class Artist" not in source
    path = tmp_path / "models.py"
    path.write_text(source)
    config = Path(__file__).resolve().parents[3] / "pyproject.toml"
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--config", str(config), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_inspectdb_comments_out_what_it_cannot_map(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    execute(
        url,
        [
            'CREATE TABLE "odd" ("id" INTEGER PRIMARY KEY, "order id" INTEGER, "class" TEXT, "shape" POINT)',
            'CREATE TABLE "two words" ("id" INTEGER PRIMARY KEY)',
        ],
    )
    result = cli("inspectdb", "--database-url", url, url=url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    source = result.stdout
    assert "# column 'order id' (INTEGER) is not declared: its name is not a Python identifier" in source
    assert "# column 'class' (TEXT) is not declared" in source
    assert "# column 'shape' has type POINT, which DataFlow cannot map; it is left out" in source
    assert "# table 'two words' is not modelled" in source
    compile(source, "odd.py", "exec")


def test_inspectdb_names_an_unknown_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    execute(url, ['CREATE TABLE "Artist" ("ArtistId" INTEGER PRIMARY KEY)'])
    result = cli("inspectdb", "--database-url", url, "--tables", "Artits", url=url, cwd=tmp_path)
    assert result.returncode == 1
    assert "--tables names 'Artits', which is not a table of this database; did you mean 'Artist'?" in result.stderr


def test_existing_schema_never_creates_a_missing_table(any_database_url: str) -> None:  # noqa: F811
    db = DataFlow(any_database_url, existing_schema=True)

    @db.model
    class Customer:
        name: str

    with pytest.raises(MigrationError, match="create_tables refused: this DataFlow is existing_schema=True"):
        db.create_tables()
    with pytest.raises(MigrationError, match=r"the models would: create table customer \(Customer\)"):
        asyncio.run(_list(db))
    with pytest.raises(MigrationError, match="migrate apply refused: this DataFlow is existing_schema=True"):
        db.migrate()
    db.close()
    assert "customer" not in tables(any_database_url)


async def _list(db: DataFlow) -> None:
    try:
        session = await db.open_session()
        await db.close_session(session)
    finally:
        await db.close_async()


def test_existing_schema_names_the_column_that_differs(any_database_url: str) -> None:  # noqa: F811
    q = (lambda n: f"`{n}`") if scheme(any_database_url) == "mysql" else (lambda n: f'"{n}"')
    execute(any_database_url, [f"CREATE TABLE {q('customer')} ({q('id')} INTEGER PRIMARY KEY, {q('nick')} TEXT)"])
    db = DataFlow(any_database_url, existing_schema=True)

    @db.model
    class Customer:
        name: str

    with pytest.raises(MigrationError, match=r"add column customer\.name; drop column customer\.nick"):
        asyncio.run(_list(db))
    assert tables(any_database_url) >= {"customer"}
    assert "dataflow_migrations" not in tables(any_database_url)


def test_existing_schema_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATAFLOW_EXISTING_SCHEMA", "1")
    db = DataFlow(f"sqlite:///{tmp_path / 'env.db'}")
    assert db.config.existing_schema
    assert not db.config.creates_tables
    db.close()


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database("postgres", request, tmp_path)


def test_inspectdb_knows_postgres_identity_serial_and_expression_defaults(postgres_url: str, tmp_path: Path) -> None:
    execute(
        postgres_url,
        [
            "CREATE TABLE events (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "seq SERIAL NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now(), n INTEGER NOT NULL DEFAULT 7, "
            "tags TEXT[], mood TEXT CHECK (mood IN ('up', 'down')))"
        ],
    )
    source = cli("inspectdb", "--database-url", postgres_url, url=postgres_url, cwd=tmp_path).stdout
    assert "not numbered by the database" not in source
    assert "    id: int\n" in source
    assert "# server default now() is not mirrored" in source
    assert 'n: Annotated[int, ColumnType("integer")] = 7' in source
    assert "# column 'tags' has type text[], which DataFlow cannot map; it is left out" in source
    assert "mood: EventsMood | None = None" in source
    base, _, schema = postgres_url.partition("?schema=")
    by_option = cli("inspectdb", "--database-url", base, "--schema", schema, url=base, cwd=tmp_path)
    assert by_option.stdout == source
    (tmp_path / "events_models.py").write_text(source)
    plan = cli("migrate", "plan", "--models", "events_models:db", "--json", url=postgres_url, cwd=tmp_path)
    assert json.loads(plan.stdout)["steps"] == [{"step": "drop column events.tags", "destructive": True}]
