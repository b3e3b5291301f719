"""Every program in examples/ runs, twice in the same directory, and tells the story its docstring promises."""

from __future__ import annotations

from pathlib import Path

from scripts import run_script

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, directory: Path, *arguments: str) -> str:
    """Run ``examples/<name>`` in ``directory`` on the embedded default; its stdout, after checking it succeeded."""
    finished = run_script(EXAMPLES / name, *arguments, cwd=directory, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == "", finished.stderr
    return finished.stdout


def test_every_example_is_run_by_a_test() -> None:
    tested = {"quickstart.py", "enterprise_saga.py", "gateway.py", "audit_gdpr.py"}
    assert {path.name for path in EXAMPLES.glob("*.py")} <= tested


def test_the_enterprise_saga_compensates_the_order_it_could_not_fill_on_every_run(tmp_path: Path) -> None:
    for _ in range(2):
        lines = run_example("enterprise_saga.py", tmp_path).splitlines()
        assert lines[0].startswith("ann: saga committed, order ")
        assert lines[0].endswith("1 stock row updated")
        assert lines[1] == "bob: order undone (stock failed), compensated: ['orders']"
        assert lines[2] == "orders kept: 1"


def test_the_gateway_example_answers_in_process(tmp_path: Path) -> None:
    for _ in range(2):
        lines = run_example("gateway.py", tmp_path, "--check").splitlines()
        assert lines == ["list: Dune", "missing: 404", "no key: 401"]


def test_the_audit_example_exports_then_erases_every_value_the_subject_gave(tmp_path: Path) -> None:
    for _ in range(2):
        lines = run_example("audit_gdpr.py", tmp_path).splitlines()
        assert lines == [
            "1. order 1: last change by support:bob: ['address']",
            "2. export for Ann: 1 order(s), addresses seen [[None, '1 Main St'], ['1 Main St', '2 High St']]",
            "3. erased {'Customer': 1, 'Order': 1}; her values left in the database: none",
            "4. audit trail verified: 5 entries in 2 chain(s)",
        ]
