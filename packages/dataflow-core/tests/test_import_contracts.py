"""The import check ``tox -e lint`` runs (tools/check_imports.py) fails on a layer violation and on a
runtime import cycle, and passes on a package that has neither; the core's own contracts hold.

Each case is a small package written to a temporary directory with its own ``importlinter.ini``,
checked in a fresh interpreter exactly as the lint env checks ``packages/*/importlinter.ini``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
CHECKER = REPO / "tools" / "check_imports.py"
CORE_CONTRACTS = REPO / "packages" / "dataflow-core" / "importlinter.ini"

LAYERS = """\
[importlinter]
root_packages =
    {package}
exclude_type_checking_imports = True

[importlinter:contract:layers]
name = {package}: high over low
type = layers
layers =
    {package}.high
    {package}.low
"""


def check(tmp_path: Path, package: str, modules: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Write ``package`` (module name -> source) and its contract under ``tmp_path``, then run the checker."""
    root = tmp_path / package
    root.mkdir()
    (root / "__init__.py").write_text("")
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    config = tmp_path / "importlinter.ini"
    config.write_text(LAYERS.format(package=package))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [sys.executable, str(CHECKER), str(config)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_package_without_violations_or_cycles_passes(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        "good_fixture",
        {
            "low": "VALUE = 1\n",
            "high": "from .low import VALUE\n\n\ndef value() -> int:\n    return VALUE\n",
            "helper": """\
                from typing import TYPE_CHECKING

                if TYPE_CHECKING:  # a type-only back reference is neither a violation nor a cycle
                    from .high import value
                """,
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout
    assert "no runtime import cycle" in result.stdout


def test_a_lower_layer_importing_a_higher_one_fails(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        "upward_fixture",
        {"high": "VALUE = 1\n", "low": "from .high import VALUE\n"},
    )
    assert result.returncode == 1
    assert "0 kept, 1 broken" in result.stdout
    assert "upward_fixture.low -> upward_fixture.high" in result.stdout
    assert "no runtime import cycle" in result.stdout  # the layers contract alone caught it


def test_a_cycle_hidden_in_a_function_fails(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        "cycle_fixture",
        {
            "low": "VALUE = 1\n",
            "high": "from .low import VALUE\n",
            # Neither module is in a layer; moving the import into a function does not hide the cycle.
            "left": "from .right import right\n\n\ndef left() -> int:\n    return right()\n",
            "right": "def right() -> int:\n    from .left import left  # noqa: PLC0415\n\n    return 1\n",
        },
    )
    assert result.returncode == 1
    assert "1 kept, 0 broken" in result.stdout
    assert "a runtime import cycle of 2 modules" in result.stdout
    assert "cycle_fixture.right -> cycle_fixture.left" in result.stdout


def test_a_cycle_through_a_layer_violation_reports_both(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        "both_fixture",
        {
            "high": "from .low import VALUE\n",
            "low": """\
                VALUE = 1


                def later() -> object:
                    from .high import VALUE  # noqa: PLC0415

                    return VALUE
                """,
        },
    )
    assert result.returncode == 1
    assert "0 kept, 1 broken" in result.stdout
    assert "both_fixture.low -> both_fixture.high" in result.stdout
    assert "a runtime import cycle of 2 modules" in result.stdout


def test_the_core_keeps_its_layers_and_has_no_runtime_cycle() -> None:
    result = subprocess.run(
        [sys.executable, str(CHECKER), str(CORE_CONTRACTS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dataflow-core: each module imports only from the layers below it KEPT" in result.stdout
