"""The harness modules a reproducer carries: found by following the import graph, not listed by hand.

:func:`modules` starts from :data:`ROOTS` (the reproducer's entry point) and follows every
``import harness...`` / ``from harness... import ...`` / relative import of each module's source
(function-level imports too; only those under ``if TYPE_CHECKING:`` are skipped, as they never
run), adding every package on the way.  Anything else a module imports must be in the standard
library (:class:`NotStandalone` otherwise), so that ``python3 -I -S repro.py`` runs anywhere.
:func:`payload` is the set as base64 text of zlib-compressed JSON ``{name: [is_package, source]}``,
which the reproducer's header imports from memory.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import json
import sys
import zlib
from functools import cache
from pathlib import Path

ROOTS = ("harness.fuzz.repro_main",)
PACKAGE = "harness"


class NotStandalone(Exception):
    """A module the reproducer needs imports something outside the standard library."""


def _source_of(name: str) -> tuple[bool, str]:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise NotStandalone(f"no source for {name}")
    return spec.submodule_search_locations is not None, Path(spec.origin).read_text(encoding="utf-8")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, is_package: bool, source: str) -> set[str]:
    """Every module name ``source`` may import at run time (``from m import x``: m and m.x)."""
    found: set[str] = set()
    package = name if is_package else name.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for other in node.orelse:
                visit(other)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if base.startswith(PACKAGE))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def _exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


@cache
def modules(roots: tuple[str, ...] = ROOTS) -> dict[str, tuple[bool, str]]:
    """``{module: (is_package, source)}`` of every harness module that ``roots`` need."""
    found: dict[str, tuple[bool, str]] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        parts = name.split(".")
        pending += [".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) not in found]
        found[name] = _source_of(name)
        for imported in _imports(name, *found[name]):
            top = imported.split(".")[0]
            if top == PACKAGE:
                if imported not in found and _exists(imported):  # `from m import function` names no module
                    pending.append(imported)
            elif top not in sys.stdlib_module_names and top != "__future__":
                raise NotStandalone(f"{name} imports {imported}, which is not in the standard library")
    return dict(sorted(found.items()))


@cache
def payload(roots: tuple[str, ...] = ROOTS) -> str:
    """The modules as base64 text (zlib-compressed JSON), deterministic for the same sources."""
    data = json.dumps({name: list(entry) for name, entry in modules(roots).items()}, ensure_ascii=True)
    return base64.b64encode(zlib.compress(data.encode("ascii"), 9)).decode("ascii")
