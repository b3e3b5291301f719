"""``dataflow inspectdb``: model source text for tables DataFlow did not create."""

from .read import read_tables
from .render import render_module

__all__ = ["read_tables", "render_module"]
