"""Every program in examples/ runs, twice in the same directory, and tells the story its docstring promises."""

from __future__ import annotations

from pathlib import Path

from scripts import run_script

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, directory: Path) -> str:
    """Run ``examples/<name>`` in ``directory`` on the embedded default; its stdout, after checking it succeeded."""
    finished = run_script(EXAMPLES / name, cwd=directory, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == "", finished.stderr
    return finished.stdout


def test_every_example_is_run_by_a_test() -> None:
    tested = {"quickstart.py", "enterprise_saga.py"}
    assert {path.name for path in EXAMPLES.glob("*.py")} <= tested


def test_the_enterprise_saga_compensates_the_order_it_could_not_fill_on_every_run(tmp_path: Path) -> None:
    for _ in range(2):
        lines = run_example("enterprise_saga.py", tmp_path).splitlines()
        assert lines[0].startswith("ann: saga committed, order ")
        assert lines[0].endswith("1 stock row updated")
        assert lines[1] == "bob: order undone (stock failed), compensated: ['orders']"
        assert lines[2] == "orders kept: 1"
