"""Workflows: build them, run them."""

from .builder import Workflow, WorkflowBuilder
from .runtime import AsyncLocalRuntime, LocalRuntime

__all__ = ["AsyncLocalRuntime", "LocalRuntime", "Workflow", "WorkflowBuilder"]
