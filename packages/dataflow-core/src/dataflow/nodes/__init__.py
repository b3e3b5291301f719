"""Workflow nodes: the contract and the generated model nodes."""

from .base import ModelNode, Node
from .generate import OPERATIONS, model_nodes

__all__ = ["OPERATIONS", "ModelNode", "Node", "model_nodes"]
