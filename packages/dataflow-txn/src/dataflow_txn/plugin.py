"""dataflow-txn's plugin module, named in the ``dataflow`` entry-point group.

It keeps a :class:`~dataflow_txn.saga.SagaService` in every ``DataFlow``'s
``db.extensions`` (``SagaService.of(db)``, shortcut ``db.sagas``), registers the
``DistributedTransactionNode`` and ``SagaNode`` node types, and adds the
``dataflow txn`` command.
"""

from __future__ import annotations

from dataflow import DataFlow, hookimpl
from dataflow.registers import CommandRegister, NodeTypeRegister

from .cli import txn
from .distributed import DistributedTransactionNode
from .saga import SagaNode, SagaService


@hookimpl
def dataflow_instance_created(db: DataFlow) -> None:
    SagaService.of(db)


@hookimpl
def dataflow_register_node_types(register: NodeTypeRegister) -> None:
    register("DistributedTransactionNode", DistributedTransactionNode)
    register("SagaNode", SagaNode)


@hookimpl
def dataflow_register_commands(register: CommandRegister) -> None:
    register(txn)
