"""Execute ``Simulation.ipynb`` headless with nbclient; fail on the first error.

    python notebook/run.py              # run it, write nothing but the figures
    python notebook/run.py --inplace    # also save the outputs into the notebook (commit them)

Every cell runs in a fresh ``python3`` kernel started from this interpreter, with the
repository root as its working directory. ``--figures DIR`` (or ``$NOTEBOOK_FIGURES``)
sends the PNGs somewhere other than ``notebook/figures``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "Simulation.ipynb"


def execute(path: Path = NOTEBOOK, timeout: int = 300, record_timing: bool = False):
    """Run every cell of ``path``; return the executed notebook (raises on a cell error)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                            record_timing=record_timing, resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python notebook/run.py", description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--inplace", action="store_true", help="save the outputs into the notebook")
    parser.add_argument("--figures", help="folder for the PNGs (default $NOTEBOOK_FIGURES or notebook/figures)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds allowed per cell (default 300)")
    args = parser.parse_args(argv)
    if args.figures:
        os.environ["NOTEBOOK_FIGURES"] = str(Path(args.figures).resolve())
    started = time.perf_counter()
    nb = execute(NOTEBOOK, timeout=args.timeout)
    if args.inplace:
        import nbformat

        nbformat.write(nb, NOTEBOOK)
    print(f"{NOTEBOOK.name}: {len(nb.cells)} cells ran without error in "
          f"{time.perf_counter() - started:.1f} s{' (outputs saved)' if args.inplace else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
