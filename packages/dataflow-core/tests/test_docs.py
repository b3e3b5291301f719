"""docs/plugins.md documents every hook with its exact signature and the type of its register callback."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from dataflow import hookspecs, registers

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


def test_every_register_parameter_has_a_protocol_type_that_the_docs_name() -> None:
    text = DOCS.read_text()
    protocols = {name for name, value in inspect.getmembers(registers, inspect.isclass) if name.endswith("Register")}
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        parameters = inspect.signature(function).parameters
        if name.startswith("dataflow_") and "register" in parameters:
            annotation = parameters["register"].annotation
            assert annotation in protocols, f"{name}: register is typed {annotation!r}, not a Protocol of registers"
            assert f"`{annotation}`" in text, f"docs/plugins.md does not name {annotation}"


def test_hooks_called_once_per_instance_receive_it_as_db() -> None:
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("dataflow_") and "once per ``DataFlow`` instance" in (function.__doc__ or ""):
            assert inspect.signature(function).parameters.get("db") is not None, name
