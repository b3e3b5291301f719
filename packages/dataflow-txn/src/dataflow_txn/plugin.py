"""dataflow-txn's plugin module, named in the ``dataflow`` entry-point group.

It attaches ``db.sagas`` to every ``DataFlow``, registers the
``DistributedTransactionNode`` and ``SagaNode`` node types, and adds the
``dataflow txn`` command.
"""

from __future__ import annotations

from typing import Any

from dataflow import hookimpl


@hookimpl
def dataflow_instance_created(db: Any) -> None:
    from .sagas import sagas_of

    sagas_of(db)


@hookimpl
def dataflow_register_node_types(register: Any) -> None:
    from .nodes import DistributedTransactionNode, SagaNode

    register("DistributedTransactionNode", DistributedTransactionNode)
    register("SagaNode", SagaNode)


@hookimpl
def dataflow_register_commands(register: Any) -> None:
    from .cli import txn

    register(txn)
