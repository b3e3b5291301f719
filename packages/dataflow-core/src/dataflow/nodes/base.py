"""The node contract, and the base of the nodes generated for a model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..errors import ValidationError
from ..schema import ModelSchema, suggest
from .outputs import UNKNOWN, Shape

if TYPE_CHECKING:
    from ..database import DataFlow
    from ..session import Session
    from ..sql import TableSQL

READ_OPERATIONS = frozenset({"read", "list", "count", "aggregate"})
"""The model operations that only read: outside a transaction they may run on a read replica."""
REPLICA = "replica"
"""The reserved input of every model node choosing where it reads: False forces the primary
(see :mod:`dataflow.routing`); the runtime takes it out before the node runs."""

AS_TENANT = "as_tenant"
"""The reserved input of every model node naming the one tenant it runs for (admin tools).

The runtime takes it out of the node's inputs and hands it to tenancy filters as
``context["node_tenant"]`` while the node runs; the node's operation never sees it.
"""


class Node:
    """A workflow node type.

    The runtime creates one instance per node of a workflow with its static
    parameters, then calls :meth:`run` with those merged with the values its
    connections delivered. A node that names a ``database`` gets a session of
    that database; others get ``None``.
    """

    type_name: ClassVar[str] = "Node"
    database: ClassVar[DataFlow | None] = None
    parameters: ClassVar[frozenset[str] | None] = None
    """Accepted input names; None accepts any."""
    repeatable: ClassVar[bool] = False
    """Safe to run again with the same inputs (a retried transaction may repeat it)."""
    reads: ClassVar[bool | None] = None
    """Known per class: True, the node only reads; False, it may write. None: its inputs say (:meth:`reads_only`).

    Routing reads it for every node (:mod:`dataflow.routing`), so a class that
    knows sets it instead of making every node call :meth:`reads_only`.
    """

    def __init__(self, node_id: str, params: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.params = dict(params)

    @classmethod
    def reads_only(cls, inputs: Mapping[str, Any]) -> bool:
        """Does a node with these inputs only read? Such nodes may run on a read replica."""
        return cls.reads is True

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        """Inputs that the static parameters or a connection must provide."""
        return frozenset()

    @classmethod
    def specialize(cls, node_id: str, params: Mapping[str, Any]) -> type[Node]:
        """The class to run for a node added with ``params``: this one, unless its parameters choose another.

        Called once when a workflow is built (``SQLNode`` binds itself to the
        database its ``database`` parameter names).
        """
        return cls

    @classmethod
    def check_inputs(cls, names: frozenset[str]) -> None:
        """Raise ``ValidationError`` for an input name the node does not take."""
        if cls.parameters is None:
            return
        for name in names - cls.parameters:
            raise ValidationError(
                f"{cls.type_name} has no parameter {name!r}{suggest(name, cls.parameters)}", field=name
            )

    @classmethod
    def output_shape(cls) -> Shape:
        """What :meth:`run` returns, as far as it is known before the run (``build()`` checks paths into it).

        The default, ``Unknown()``, leaves every path to be checked when the node has run.
        """
        return UNKNOWN

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


class CapturedRun(Protocol):
    """Runs a write node of a captured model, reporting its changes (:func:`dataflow.nodes.capture.run_captured`)."""

    async def __call__(self, node: ModelNode, session: Session, inputs: dict[str, Any], /) -> Any: ...


class ModelNode(Node):
    """A node generated for one model of one DataFlow instance."""

    schema: ClassVar[ModelSchema]
    db: ClassVar[DataFlow]
    operation: ClassVar[str]
    repeatable = True
    captured_run: ClassVar[CapturedRun | None] = None
    """Set on the write nodes of a model a change listener captures (see :mod:`dataflow.nodes.capture`)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        operation = cls.__dict__.get("operation")
        if isinstance(operation, str):
            cls.reads = operation in READ_OPERATIONS

    @classmethod
    def parameters_for(cls, schema: ModelSchema) -> frozenset[str] | None:
        """The inputs the node generated for ``schema`` accepts."""
        return cls.parameters

    def error(self, message: str, field: str | None = None) -> ValidationError:
        return ValidationError(f"{self.type_name}: {message}", model=self.schema.name, field=field)

    def table(self, session: Session) -> TableSQL:
        return session.table(self.schema)


async def run_model_node(node: ModelNode, session: Session, inputs: dict[str, Any]) -> Any:
    """Run a model node on ``session`` (whose turn the caller holds), honouring the reserved ``as_tenant``."""
    node_tenant = inputs.pop(AS_TENANT, None)
    run = node.captured_run
    if node_tenant is None:
        return await node.run(session, inputs) if run is None else await run(node, session, inputs)
    # One node for one tenant (admin tools): the tenancy filter reads ``node_tenant``
    # while this node holds the session, and may refuse it (never a switch of tenants).
    context = session.context
    session.context = {**context, "node_tenant": node_tenant}
    try:
        return await node.run(session, inputs) if run is None else await run(node, session, inputs)
    finally:
        session.context = context
