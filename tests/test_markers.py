"""Every test file says what it needs, so none slips into the fast run by forgetting to:
a module-level ``pytestmark`` with a marker registered in pyproject.toml; ``make
test-fast`` leaves out every marker but ``unit`` and ``property``; and a test of a unit or
property file that starts a server or a process is marked for what it needs."""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
FAST = {"unit", "property"}
# names in a test's code that mean a server or a child process: not for the fast run
HEAVY = re.compile(r"\b(subprocess|start_in_thread|start_dapp|LocalNode|DappThread|Popen)\b")


CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
REGISTERED = [line.split(":")[0].strip() for line in CONFIG["markers"]]


def marks(node: ast.expr) -> list[str]:
    """The names X of ``pytest.mark.X`` in an expression (a mark, a list of them, a call)."""
    return [n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Attribute) and n.value.attr == "mark"]


def file_marks(tree: ast.Module) -> list[str]:
    return [m for node in tree.body if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
            for m in marks(node.value)]


TEST_FILES = sorted((ROOT / "tests").glob("test_*.py"))


def test_the_markers_are_registered_and_strict():
    assert "--strict-markers" in CONFIG["addopts"].split()  # a mistyped marker is an error
    assert FAST < set(REGISTERED)


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_every_test_file_says_what_it_needs(path):
    found = set(file_marks(ast.parse(path.read_text()))) & set(REGISTERED)
    assert found, f"{path.name}: give it a module-level pytestmark, one of {', '.join(REGISTERED)}"


def test_make_test_fast_leaves_out_every_other_marker():
    fast = re.search(r"^FAST_TESTS := (.+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert fast == " and ".join(f"not {m}" for m in REGISTERED if m not in FAST)
    make_test = re.search(r"^test: .*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert make_test == "$(PY) -m pytest -q tests"  # `make test` still runs everything


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_a_fast_files_server_or_process_tests_are_marked(path):
    source = path.read_text()
    tree = ast.parse(source)
    if not set(file_marks(tree)) <= FAST:
        return
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef) or not fn.name.startswith("test"):
            continue
        uses = HEAVY.search(ast.get_source_segment(source, fn)) or "node" in [a.arg for a in fn.args.args]
        own = {m for d in fn.decorator_list for m in marks(d)}
        assert not uses or own - FAST, f"{path.name}::{fn.name} starts a server or a process: mark it integration"
