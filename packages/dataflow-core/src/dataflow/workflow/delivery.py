"""Delivering a node's output along a connection: the value at a path, into the target's inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .builder import Connection, NodeSpec, no_such_output


class _Undeliverable(Exception):
    """A connection could not deliver: the source ran, but its output lacks what the connection reads.

    The run fails with a ``WorkflowError`` about the connection, not about any node.
    """


def _output_at(output: Any, path: tuple[str, ...], connection: Connection, source: NodeSpec) -> Any:
    value = output
    for depth, part in enumerate(path):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            if isinstance(value, (list, tuple)):
                raise _Undeliverable(
                    f"{connection.describe()}: node {source.node_id!r} ({source.node_class.type_name}) output "
                    f"{'.'.join(path[:depth]) or 'itself'!r} has {len(value)} items, so no item {part!r}"
                )
            options = tuple(map(str, value)) if isinstance(value, Mapping) else ()
            raise _Undeliverable(no_such_output(connection.describe(), source, path, depth, options))
    return value


def _set_input(inputs: dict[str, Any], path: tuple[str, ...], value: Any, connection: Connection) -> None:
    if not path:
        if not isinstance(value, Mapping):
            raise _Undeliverable(
                f"{connection.describe()}: the output of {connection.source!r} is not an object and cannot fill "
                f"{connection.target!r}'s inputs"
            )
        inputs.update(value)
        return
    target = inputs
    for part in path[:-1]:
        nested = target.get(part)
        # Copy on write: static parameters are shared by every run of the workflow.
        target[part] = nested = dict(nested) if isinstance(nested, Mapping) else {}
        target = nested
    target[path[-1]] = value
