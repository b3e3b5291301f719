"""Sagas, in one place; from the bottom layer up:

- ``steps``, ``log``, ``keys``: the data types (steps, context, outcome), the
  saga log tables, and the steps' marker keys; they import nothing above them.
- ``runner``: runs a saga forward, compensates it, recovers one.
- ``service``: ``SagaService`` (``db.sagas``), the sagas of one log and their recovery.
- ``definition``: ``Saga``, what users build, and ``SagaNode``, the node that runs one.

``packages/dataflow-txn/importlinter.ini`` holds this order.
"""

from .definition import Saga, SagaNode
from .service import SagaRecoveryReport, SagaService
from .steps import SagaContext, SagaOutcome

__all__ = ["Saga", "SagaContext", "SagaNode", "SagaOutcome", "SagaRecoveryReport", "SagaService"]
