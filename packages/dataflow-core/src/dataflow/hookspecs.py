"""The plugin contract: every hook a DataFlow plugin may implement.

Plugins are modules named in the ``dataflow`` entry-point group; they
implement these hooks with ``@dataflow.hookimpl``. Most hooks are register
callbacks: the plugin calls ``register(...)`` with what it provides and the
core keeps the registry. Hooks called once per ``DataFlow`` instance also
receive that instance as ``db``; an implementation may leave out any argument
it does not use, as pluggy allows. Hooks run in pluggy's order: ``tryfirst``
implementations first, ``trylast`` last, otherwise the plugin registered last
first. pluggy is synchronous; objects registered here have async methods
where they touch the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .database import DataFlow
    from .registers import (
        BulkStrategyRegister,
        ChangeListenerRegister,
        CommandRegister,
        DialectRegister,
        ModelOptionRegister,
        MonitorRegister,
        NodeTypeRegister,
        SchemaExtensionRegister,
        SessionHookRegister,
        TenancyFilterRegister,
    )

hookspec = pluggy.HookspecMarker("dataflow")


@hookspec
def dataflow_register_dialects(register: DialectRegister) -> None:
    """Register database dialects.

    :param register: call ``register(dialect_class)`` with a subclass of
        :class:`dataflow.dialect.Dialect` for each dialect the plugin provides.
        The class's ``schemes`` tuple says which URL schemes it answers to.

    Called once, when the first ``DataFlow`` instance resolves its URL.
    """


@hookspec
def dataflow_register_bulk_strategies(register: BulkStrategyRegister) -> None:
    """Register bulk strategies offered on every dialect.

    :param register: call ``register(strategy)`` with an object satisfying
        :class:`dataflow.bulk.BulkStrategy` (``name``, ``operation``,
        ``priority``, ``cannot_run(dialect, request)``, async ``run(session, request)``).

    Called once per process. A dialect's own strategies (COPY, LOAD DATA)
    come from its :meth:`~dataflow.dialect.Dialect.bulk_strategies`, not from
    this hook. For each bulk request the strategy with the highest priority
    that can run it runs, unless the node's ``strategy`` parameter names one.
    """


@hookspec
def dataflow_register_tenancy_filters(register: TenancyFilterRegister, db: DataFlow) -> None:
    """Register tenancy filters that narrow and fill every statement of a node.

    :param register: call ``register(tenancy_filter)`` with an object satisfying
        :class:`dataflow.scoping.TenancyFilter`: ``scope(schema, context)``
        returns a filter dict ANDed into every WHERE clause of that model (or
        None), and ``fill(schema, row, context)`` checks and completes a row
        before it is written. Either may raise to refuse the statement: filters
        fail closed.
    :param db: the ``DataFlow`` being created (its ``config``, ``dialect`` and
        ``extensions`` are set; its monitors, filters and hooks not yet).

    Called once per ``DataFlow`` instance, when it is created.
    """


@hookspec
def dataflow_register_schema_extensions(register: SchemaExtensionRegister, db: DataFlow) -> None:
    """Register functions that extend model schemas as models are defined.

    :param register: call ``register(extend)`` where ``extend(schema)`` takes a
        :class:`dataflow.schema.ModelSchema` and returns it, or a new one made
        with ``attrs.evolve`` (a ``tenant_id`` field, a ``version`` column, unique
        groups widened). Extensions read their options from ``schema.options``
        (the model's ``__dataflow__``) and return other schemas unchanged.
    :param db: the ``DataFlow`` being created (its ``config``, ``dialect`` and
        ``extensions`` are set; its monitors, filters and hooks not yet).

    Called once per ``DataFlow`` instance, when it is created; the extensions
    run in pluggy's call order inside ``db.model``, before nodes are generated
    (and before the core adds the ``version`` column of a ``versioned`` model).
    """


@hookspec
def dataflow_register_session_hooks(register: SessionHookRegister, db: DataFlow) -> None:
    """Register hooks around each run's use of a connection.

    :param register: call ``register(hook)`` with an object that has async
        ``session_opened(session)``, awaited when a run (or any user of
        ``db.open_session``) has a connection and before its first statement,
        and async ``session_closing(session)``, awaited after the session's
        transaction ended and before the connection goes back to the pool. Use
        them for per-connection state (a ``search_path``, a setting read by
        row-level-security policies) and undo in ``session_closing`` what
        ``session_opened`` did. If ``session_opened`` raises, the connection is
        discarded and the error ends the run; if ``session_closing`` raises,
        the connection is discarded.
    :param db: the ``DataFlow`` being created (its ``config``, ``dialect`` and
        ``extensions`` are set; its monitors, filters and hooks not yet).

    Called once per ``DataFlow`` instance, when it is created.
    """


@hookspec
def dataflow_instance_created(db: DataFlow) -> None:
    """Set up per-instance services on a new ``DataFlow``.

    :param db: the instance, fully configured (dialect, monitors, filters).
        Keep per-instance objects in ``db.extensions`` (``db.extensions.add(service)``,
        read back by class with ``db.extensions.get(Service)``), never as
        attributes of ``db``; ``db.extensions.shortcut(name, value)`` offers a
        name users call on the instance (``db.tenant``, ``db.health``).

    Called once per instance, at the end of ``DataFlow.__init__``, in pluggy's
    order. The return value is ignored; a plugin that raises is reported (see
    ``dataflow plugins``) and skipped.
    """


@hookspec
def dataflow_register_monitors(register: MonitorRegister, db: DataFlow) -> None:
    """Register monitors that receive events.

    :param register: call ``register(monitor)`` with an object that has a
        ``handle(event)`` method; events are the classes of
        :mod:`dataflow.events`. A monitor that raises never breaks a run: its
        first failure of a kind is logged, repeats are counted in
        ``db.monitors.failures``.
    :param db: the ``DataFlow`` being created (its ``config``, ``dialect`` and
        ``extensions`` are set; its monitors, filters and hooks not yet).

    Called once per ``DataFlow`` instance, when it is created; a ``ConfigError``
    raised here reaches the caller of ``DataFlow()``.
    """


@hookspec
def dataflow_register_node_types(register: NodeTypeRegister) -> None:
    """Register workflow node types that are not tied to a model.

    :param register: call ``register(name, node_class)``; ``node_class``
        follows :class:`dataflow.nodes.base.Node`. The name is what
        ``WorkflowBuilder.add_node`` accepts.

    Called once per process, when a workflow first resolves a node type name.
    """


@hookspec
def dataflow_register_commands(register: CommandRegister) -> None:
    """Register subcommands of the ``dataflow`` command line.

    :param register: call ``register(command)`` with a ``click.Command``.

    Called once, when the ``dataflow`` command starts.
    """


@hookspec
def dataflow_register_model_options(register: ModelOptionRegister) -> None:
    """Declare the ``__dataflow__`` options a plugin reads from ``schema.options``.

    :param register: call ``register(name, description)`` for each option; the
        description is shown when a model names an unknown option. A name the
        core or another plugin already declares is reported as a problem of
        this plugin and skipped.

    Called once per process, when the first model is defined. A model option
    that neither the core nor a plugin declares is a ``ConfigError`` naming the
    nearest valid one.
    """


@hookspec
def dataflow_register_change_listeners(register: ChangeListenerRegister, db: DataFlow) -> None:
    """Register listeners that receive the before and after images of the rows each write changes.

    :param register: call ``register(listener)`` with an object satisfying
        :class:`dataflow.changes.ChangeListener`: ``captures(schema)`` says
        whether it wants a model's changes (asked once, in ``db.model``), and
        async ``changed(session, changes)`` receives a
        :class:`dataflow.changes.ChangeSet` per write node run, on the write's
        session and inside its transaction (raising rolls the write back).
        Models no listener captures run exactly as without the hook.
    :param db: the ``DataFlow`` being created (its ``config``, ``dialect`` and
        ``extensions`` are set; its monitors, filters and hooks not yet).

    Called once per ``DataFlow`` instance, when it is created.
    """
