"""Run the runnable Python blocks of one Markdown page, in order, in one namespace: ``python doc_blocks.py PAGE``.

A block is runnable when its info string is ``python runnable``. Blocks share
one namespace, as a reader who pastes them one after another would; a block
may use top-level ``await`` (it then runs on one event loop kept for the whole
page). A block a reader needs but that would only clutter the page can be
hidden in an HTML comment, ``<!-- runnable ... -->``, holding a fenced block.
A failure names the page, the block and its line in the page.
"""

from __future__ import annotations

import ast
import asyncio
import re
import sys
import traceback
from pathlib import Path
from types import CodeType, FunctionType, ModuleType

FENCE = re.compile(r"^```python runnable[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def runnable_blocks(text: str) -> list[tuple[int, str]]:
    """(first line in the page, source) of every runnable block, hidden ones included, in page order."""
    return [(text.count("\n", 0, match.start(1)) + 1, match.group(1)) for match in FENCE.finditer(text)]


def compiled(source: str, page: str, line: int) -> CodeType:
    tree = compile(source, page, "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    ast.increment_lineno(tree, line - 1)
    return compile(tree, page, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def run_page(path: Path) -> int:
    blocks = runnable_blocks(path.read_text())
    # A real module, so that code reading a class's module (type hints of a model) finds the page's names.
    page_module = ModuleType("docpage")
    sys.modules[page_module.__name__] = page_module
    namespace = page_module.__dict__
    loop = asyncio.new_event_loop()
    try:
        for number, (line, source) in enumerate(blocks, 1):
            try:
                # As asyncio's REPL does: a code object with top-level await becomes a coroutine function.
                result = FunctionType(compiled(source, str(path), line), namespace)()
                if asyncio.iscoroutine(result):
                    loop.run_until_complete(result)
            except Exception:  # noqa: BLE001 - any failure of the page is reported with its block
                print(f"{path.name}: block {number} (line {line}) failed:", file=sys.stderr)
                traceback.print_exc()
                return 1
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    print(f"{path.name}: {len(blocks)} runnable blocks ran")
    return 0


if __name__ == "__main__":
    sys.exit(run_page(Path(sys.argv[1])))
