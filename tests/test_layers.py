"""Imports in the package run one way (no cycle, no import hidden in a function to dodge
one), the pure math imports nothing of the package, and the package imports nothing of
the DApp around it (db, rollup_host, l1, dapp)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


PACKAGE = Path(__file__).resolve().parent.parent / "streamable_token"


def modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        out[name] = ast.parse(path.read_text())
    return out


def imports(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_the_package_import_graph_has_no_cycle_and_no_function_level_imports():
    mods = modules()
    graph = {m: {i for i in imports(t) if i in mods and i != m} for m, t in mods.items()}
    for name, tree in mods.items():
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = [n for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))]
                assert not inner, f"{name}.{fn.name} imports inside a function"
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        if state.get(m) == 2:
            return
        assert state.get(m) != 1, "import cycle: " + " -> ".join(trail + [m])
        state[m] = 1
        for dep in sorted(graph[m]):
            if dep != "streamable_token":  # the package's __init__ re-exports; its parts never use it
                visit(dep, trail + [m])
        state[m] = 2

    for m in sorted(graph):
        visit(m, [])


def test_the_math_is_pure_and_the_package_stands_alone():
    mods = modules()
    # the stream math, and the one home of other libraries' private APIs, sit at the bottom
    for bottom in ("streamable_token.schedule", "streamable_token.fastpaths"):
        assert not {i for i in imports(mods[bottom]) if i.startswith("streamable_token")}, bottom
    # the ledger (money's rules) and its row codec are pure too: math and constants only
    pure = {"streamable_token.schedule", "streamable_token.constants", "streamable_token.ledger"}
    for name in ("streamable_token.ledger", "streamable_token.ledger_row"):
        package_imports = {i for i in imports(mods[name]) if i.startswith("streamable_token")}
        assert {i.rsplit(".", 1)[0] if i not in mods else i for i in package_imports} <= pure, name
    for name, tree in mods.items():
        for i in imports(tree):
            assert not i.split(".")[0] in {"db", "rollup", "rollup_host", "l1", "dapp", "tests", "bench"}, (name, i)
