"""``dataflow shell``: an interactive console with ``await``, ``db``, the models and their nodes."""

from __future__ import annotations

import ast
import asyncio
import code
import inspect
import types
from typing import Any

import click

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


@click.command("shell")
@click.option("--models", "models", help=MODELS_HELP)
@click.option("--database-url", help=URL_HELP)
def shell(models: str | None, database_url: str | None) -> None:
    """An interactive console with `db`, the models and their nodes loaded; `await` works at the prompt."""
    from .. import AsyncLocalRuntime, LocalRuntime, WorkflowBuilder

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
    banner = (
        f"DataFlow shell on {db.label}\n"
        f"models: {', '.join(db.schemas) or 'none'}; nodes as names (UserCreateNode, ...)\n"
        "try: await runtime.execute_async(wf)  # top-level await works"
    )
    try:
        AsyncConsole(namespace, loop).interact(banner=banner, exitmsg="")
    finally:
        loop.run_until_complete(db.close_async())
        loop.close()
