"""docs/plugins.md documents every hook with its exact signature."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from dataflow import hookspecs

DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"


def hook_functions() -> dict[str, str]:
    result = {}
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("dataflow_"):
            parameters = ", ".join(inspect.signature(function).parameters)
            result[name] = f"{name}({parameters})"
    return result


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    text = DOCS.read_text()
    documented = dict(re.findall(r"^### `(\w+)(\([^)]*\))`", text, flags=re.MULTILINE))
    hooks = hook_functions()
    assert hooks, "no hookspecs found"
    for name, signature in hooks.items():
        assert name in documented, f"{name} is not documented in docs/plugins.md"
        assert f"{name}{documented[name]}" == signature, f"docs/plugins.md documents {name} with the wrong signature"
    assert set(documented) <= set(hooks), (
        f"docs/plugins.md documents hooks that do not exist: {set(documented) - set(hooks)}"
    )


def test_every_hook_has_a_docstring() -> None:
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("dataflow_"):
            assert function.__doc__ and ":param" in function.__doc__ and "Called" in function.__doc__, name
