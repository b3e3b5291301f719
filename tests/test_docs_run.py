"""The runnable blocks of README.md and docs/*.md run, on the embedded SQLite default, so the docs cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest
from doc_blocks import runnable_blocks
from scripts import run_script

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = [page for page in PAGES if runnable_blocks(page.read_text())]


def test_the_pages_a_new_user_reads_first_have_runnable_blocks() -> None:
    names = {page.name for page in RUNNABLE}
    assert {
        "README.md",
        "tutorial.md",
        "nodes.md",
        "direct-api.md",
        "configuration.md",
        "migrations.md",
        "plugins.md",
        "monitoring.md",
        "tenancy.md",
        "transactions.md",
        "audit.md",
        "gdpr.md",
    } <= names


@pytest.mark.parametrize("page", RUNNABLE, ids=[page.name for page in RUNNABLE])
def test_every_runnable_block_of_the_page_runs(page: Path, tmp_path: Path) -> None:
    finished = run_script(Path(__file__).with_name("doc_blocks.py"), str(page), cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert "Traceback" not in finished.stderr and "Exception ignored" not in finished.stderr, finished.stderr
