"""dataflow-txn's plugin module, named in the ``dataflow`` entry-point group.

It keeps a :class:`~dataflow_txn.sagas.SagaService` in every ``DataFlow``'s
``db.extensions`` (``SagaService.of(db)``, shortcut ``db.sagas``), registers the
``DistributedTransactionNode`` and ``SagaNode`` node types, and adds the
``dataflow txn`` command.
"""

from __future__ import annotations

from dataflow import DataFlow, hookimpl
from dataflow.registers import CommandRegister, NodeTypeRegister


@hookimpl
def dataflow_instance_created(db: DataFlow) -> None:
    from .sagas import sagas_of

    sagas_of(db)


@hookimpl
def dataflow_register_node_types(register: NodeTypeRegister) -> None:
    from .nodes import DistributedTransactionNode, SagaNode

    register("DistributedTransactionNode", DistributedTransactionNode)
    register("SagaNode", SagaNode)


@hookimpl
def dataflow_register_commands(register: CommandRegister) -> None:
    from .cli import txn

    register(txn)
