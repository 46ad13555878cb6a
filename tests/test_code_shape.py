"""The code stays in pieces a reader can hold (issue 29, item 6): no function of the
package, the local host, the DApp or its database graded D or worse by radon's cyclomatic
complexity (more than 20 paths through it), and no module of the package or the host
over 600 lines."""
from __future__ import annotations

from pathlib import Path

import pytest
from radon.complexity import cc_rank, cc_visit

pytestmark = pytest.mark.unit


ROOT = Path(__file__).resolve().parent.parent
GRADED = ["streamable_token", "rollup_host", "dapp.py", "db"]
SIZED = ["streamable_token", "rollup_host"]
WORST_GRADE = "C"  # at most 20 paths through a function
MAX_LINES = 600


def python_files(names: list[str]) -> list[Path]:
    out = []
    for name in names:
        path = ROOT / name
        out += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return out


def blocks(found: list) -> list:
    """Every function radon measured: top-level ones, methods (of inner classes too) and
    functions defined inside functions."""
    out = []
    for block in found:
        if hasattr(block, "methods"):  # a class
            out += blocks(block.methods) + blocks(block.inner_classes)
        else:
            out += [block] + blocks(block.closures)
    return out


def too_complex(source: str, where: str) -> list[str]:
    """``where:line name grade (complexity)`` of each function graded worse than C."""
    seen, out = set(), []
    for fn in blocks(cc_visit(source)):
        if (fn.lineno, fn.name) in seen:  # cc_visit lists a method under its class and alone
            continue
        seen.add((fn.lineno, fn.name))
        if cc_rank(fn.complexity) > WORST_GRADE:
            name = f"{fn.classname}.{fn.name}" if fn.classname else fn.name
            out.append(f"{where}:{fn.lineno} {name} {cc_rank(fn.complexity)} ({fn.complexity})")
    return out


def too_long(source: str, where: str) -> list[str]:
    lines = len(source.splitlines())
    return [f"{where}: {lines} lines"] if lines > MAX_LINES else []


def test_the_checks_reach_the_code():
    graded = {p.relative_to(ROOT).as_posix() for p in python_files(GRADED)}
    assert {"dapp.py", "db/checkpoint.py", "rollup_host/server.py", "streamable_token/token.py",
            "streamable_token/rollup/inspect.py", "streamable_token/migrations/m5_ledger_state.py"} <= graded


def test_no_function_is_graded_d_or_worse():
    offenders = [o for p in python_files(GRADED) for o in too_complex(p.read_text(), p.relative_to(ROOT).as_posix())]
    assert not offenders, "split these into smaller functions (radon grade D or worse):\n" + "\n".join(offenders)


def test_no_module_is_over_600_lines():
    offenders = [o for p in python_files(SIZED) for o in too_long(p.read_text(), p.relative_to(ROOT).as_posix())]
    assert not offenders, f"split these modules (over {MAX_LINES} lines):\n" + "\n".join(offenders)


def test_the_checks_catch_a_complex_function_and_a_long_module():
    branches = "".join(f"    if x == {k}:\n        return {k}\n" for k in range(20))
    source = ("class Shape:\n    def fine(self, x):\n        return x\n\n"
              f"    def branchy(self, x):\n{branches.replace('    ', '        ')}        return -1\n\n"
              f"def outer(x):\n    def inner(x):\n{branches.replace('    ', '        ')}        return -1\n"
              "    return inner(x)\n")
    assert sorted(too_complex(source, "m.py")) == ["m.py:49 inner D (21)", "m.py:5 Shape.branchy D (21)"]
    twenty_paths = "def f(x):\n" + "".join(f"    if x == {k}:\n        return {k}\n" for k in range(19))
    assert not too_complex(twenty_paths, "m.py")  # C (20): allowed
    assert too_long("x = 1\n" * 601, "m.py") == ["m.py: 601 lines"]
    assert not too_long("x = 1\n" * 600, "m.py")
