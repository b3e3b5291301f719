"""``dataflow shell``: an interactive console with ``await``, ``db``, the models and their nodes."""

from __future__ import annotations

import ast
import asyncio
import code
import inspect
import types
from typing import Any

import click

from ..database import DataFlow
from ..workflow import AsyncLocalRuntime, LocalRuntime, WorkflowBuilder
from .loading import MODELS_HELP, URL_HELP, load_db


class AsyncConsole(code.InteractiveConsole):
    """A console that accepts top-level ``await``, running it on one private event loop."""

    def __init__(self, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(namespace)
        self.loop = loop
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT

    def runcode(self, code_object: types.CodeType) -> None:
        function = types.FunctionType(code_object, self.locals)
        try:
            result = function()
            if inspect.iscoroutine(result):
                self.loop.run_until_complete(result)
        except SystemExit:
            raise
        except BaseException:  # noqa: BLE001 - shown to the user, the console goes on
            self.showtraceback()


def banner(db: DataFlow) -> str:
    """The greeting: where the shell is, and the names this instance's models and nodes go by."""
    models = list(db.schemas)
    if models:
        example = f"{models[0]}CreateNode"
        names = f"models: {', '.join(models)}; their nodes by name ({example}, ...) or db.nodes[{example!r}]"
    else:
        names = "models: none yet (define one with @db.model; its nodes appear by name)"
    return f"DataFlow shell on {db.label}\n{names}\ntry: await runtime.execute_async(wf)  # top-level await works"


@click.command("shell")
@click.option("--models", "models", help=MODELS_HELP)
@click.option("--database-url", help=URL_HELP)
def shell(models: str | None, database_url: str | None) -> None:
    """An interactive console with `db`, the models and their nodes loaded; `await` works at the prompt."""
    db = load_db(models, database_url)
    loop = asyncio.new_event_loop()
    namespace: dict[str, Any] = {
        "db": db,
        "WorkflowBuilder": WorkflowBuilder,
        "runtime": AsyncLocalRuntime(),
        "LocalRuntime": LocalRuntime,
        **{cls.__name__: cls for cls in db.model_classes()},
        **db.nodes,
    }
    try:
        AsyncConsole(namespace, loop).interact(banner=banner(db), exitmsg="")
    finally:
        loop.run_until_complete(db.close_async())
        loop.close()
