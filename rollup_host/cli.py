"""What every command line of the repository shares (``rollup_host``, ``l1.*``, ``bench``).

* :func:`summary`: a parser's description from its module docstring, the whole first
  paragraph (a first *line* stops mid-sentence);
* :class:`HelpFormatter`: keeps the description's and epilog's line breaks and adds
  each flag's default to its help line;
* :func:`run`: calls a ``main(argv) -> int``, and on a closed standard output (``… | head``)
  exits 141 (128 + SIGPIPE, what a shell shows for a command killed by the pipe) quietly
  instead of printing a ``BrokenPipeError`` traceback;
* :func:`stop_on_signals`: SIGINT and SIGTERM stop a long-running command as Ctrl-C does.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Callable, NoReturn, Optional, Sequence

EXIT_CLOSED_PIPE = 141


def summary(doc: Optional[str]) -> str:
    """The first paragraph of ``doc``, whole (its lines joined by argparse's wrapping)."""
    return (doc or "").strip().split("\n\n")[0]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Description and epilog as written; ``(default: X)`` after every flag that has a
    default and does not name it already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or any(action.default is nothing for nothing in (None, False, argparse.SUPPRESS)) \
                or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and SIGTERM raise ``KeyboardInterrupt``, whatever this process
    inherited: a shell without job control starts background commands with SIGINT
    ignored, and Python then never turns it into ``KeyboardInterrupt``."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def run(main: Callable[[Optional[Sequence[str]]], Optional[int]],
        argv: Optional[Sequence[str]] = None) -> NoReturn:
    """``sys.exit(main(argv))``, but exit 141 without a traceback when stdout is closed."""
    try:
        code = main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at /dev/null so that flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = EXIT_CLOSED_PIPE
    sys.exit(code)
