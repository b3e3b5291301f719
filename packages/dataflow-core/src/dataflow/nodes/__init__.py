"""Workflow nodes: the contract and the generated model nodes.

The generated nodes' modules load on first use (the first model, or a name
read from here), not with ``import dataflow``: they are a fifth of its time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import ModelNode, Node

if TYPE_CHECKING:
    from .generate import OPERATIONS, model_nodes

__all__ = ["OPERATIONS", "ModelNode", "Node", "model_nodes"]


def __getattr__(name: str) -> Any:
    if name in ("OPERATIONS", "model_nodes"):
        from . import generate  # noqa: PLC0415 - lazy on purpose, see the module docstring

        return getattr(generate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
