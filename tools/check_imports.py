"""Check every package's import contracts; ``tox -e lint`` runs this.

For each ``importlinter.ini`` (by default every ``packages/*/importlinter.ini``):

1. ``lint-imports`` checks the contracts the file declares (a package's layers);
2. then no runtime import cycle may exist among the modules of its root packages.

A cycle counts an import at module top and one inside a function (moving an import
into a function only hides a cycle); an import under ``if TYPE_CHECKING:`` does not
count. Usage, from the repository root::

    python tools/check_imports.py [CONFIG ...]

Exits 1 when a contract is broken or a cycle exists, naming each.
"""

from __future__ import annotations

import argparse
import configparser
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def root_packages(config: Path) -> list[str]:
    """The ``root_packages`` (or ``root_package``) an import-linter INI file names."""
    parser = configparser.ConfigParser()
    parser.read(config)
    section = parser["importlinter"]
    names = section.get("root_packages") or section.get("root_package") or ""
    return names.split()


def import_graph(packages: Sequence[str]) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports at run time."""
    graph = grimp.build_graph(*packages, exclude_type_checking_imports=True)
    return {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def check_cycles(config: Path) -> bool:
    graph = import_graph(root_packages(config))
    found = cycles(graph)
    for component in found:
        members = set(component)
        print(f"{config}: a runtime import cycle of {len(component)} modules:")
        for module in component:
            for target in sorted(graph[module] & members):
                print(f"    {module} -> {target}")
    if not found:
        print(f"{config}: no runtime import cycle")
    return not found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", type=Path, help="importlinter.ini files (default: packages/*/)")
    configs = parser.parse_args(argv).configs or sorted(ROOT.glob("packages/*/importlinter.ini"))
    ok = True
    for config in configs:
        ok = lint_imports(str(config), no_cache=True, no_logo=True) == 0 and ok
        ok = check_cycles(config) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
