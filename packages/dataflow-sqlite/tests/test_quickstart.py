"""The README's first command runs examples/quickstart.py: it must tell the same, true story on every run."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[3] / "examples" / "quickstart.py"

ADULT_MEMBERS = sum(1 for i in range(1000) if i % 60 >= 18)
YOUNG_MEMBERS = sum(1 for i in range(1000) if i % 60 < 30)


def run_quickstart(directory: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAFLOW_") and k != "DATABASE_URL"}
    ran = subprocess.run(
        [sys.executable, str(QUICKSTART)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran.stdout.splitlines()


def story(new: int, updated: int) -> list[str]:
    return [
        "2. signed up Ann, age 31",
        f"3. members: {new} new, {updated} updated",
        f"   members aged 18 or over: {ADULT_MEMBERS}",
        "   oldest: member 0059, member 0119, member 0179",
        "4. Cy, 40: welcomed",
        "4. Dee, 12: not welcomed: under 18",
        "5. node 'missing' failed (NotFoundError), so the run was rolled back",
        f"   active users under 30: {YOUNG_MEMBERS} before, {YOUNG_MEMBERS} after",
    ]


def test_the_quickstart_tells_the_same_true_story_when_run_twice(tmp_path: Path) -> None:
    assert run_quickstart(tmp_path) == story(new=1000, updated=0)
    assert run_quickstart(tmp_path) == story(new=0, updated=1000)
    with sqlite3.connect(tmp_path / "dataflow.db") as raw:
        users = raw.execute("SELECT name, age, active FROM user ORDER BY id").fetchall()
    # One row per person however often it ran; only adults were welcomed; the rollback left everyone active.
    assert len(users) == 1003
    assert users[0] == ("Ann", 31, 1) and users[-2:] == [("Cy", 40, 1), ("Dee", 12, 0)]
    assert sum(1 for name, age, _ in users if name.startswith("member ") and age >= 18) == ADULT_MEMBERS
    assert all(active for name, _, active in users if name != "Dee")
