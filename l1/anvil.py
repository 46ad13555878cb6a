"""Start and stop a local anvil (from the npm package ``@foundry-rs/anvil-linux-amd64``)."""

import ctypes
import os
import re
import signal
import shutil
import subprocess
import threading
import time

from . import NODE_MODULES
from .errors import L1Error, ToolMissing
from .rpc import Rpc

ANVIL_BIN = NODE_MODULES / ".bin" / "anvil"
_LISTENING = re.compile(r"Listening on ([0-9.]+):(\d+)")


def anvil_path():
    """Path of the anvil binary: ``node_modules/.bin/anvil``, else ``$ANVIL``/``PATH``."""
    if ANVIL_BIN.exists():
        return str(ANVIL_BIN)
    found = os.environ.get("ANVIL") or shutil.which("anvil")
    if found:
        return found
    raise ToolMissing("anvil not found: run `make l1-deps`")


def _die_with_parent():
    # Linux: anvil gets SIGTERM if the Python process that started it dies, so a killed
    # test run or `make l1-up` leaves no node behind.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Anvil:
    """A running anvil process. Use as a context manager or call ``stop()``.

    Parameters: ``port`` (0 picks a free one, reported by anvil itself), ``host``,
    ``chain_id``, ``block_time`` (None = mine one block per transaction), ``extra`` args.
    Attributes once started: ``url``, ``port``, ``rpc``, ``process``.
    """

    def __init__(self, port=0, host="127.0.0.1", chain_id=31337, block_time=None,
                 extra=(), startup_timeout=20.0):
        cmd = [anvil_path(), "--host", host, "--port", str(port), "--chain-id",
               str(chain_id)]
        if block_time is not None:
            cmd += ["--block-time", str(block_time)]
        cmd += list(extra)
        self.cmd = cmd
        self.host = host
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True,
                                        stdin=subprocess.DEVNULL,
                                        preexec_fn=_die_with_parent)
        self.port = self._wait_listening(startup_timeout)
        self.url = f"http://{host}:{self.port}"
        # Keep draining stdout so anvil never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        self.rpc = Rpc(self.url)
        self.rpc.wait_ready()

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                if self.process.poll() is not None:
                    break
                continue
            seen.append(line)
            m = _LISTENING.search(line)
            if m:
                return int(m.group(2))
        self.stop()
        raise L1Error("anvil did not start: " + "".join(seen[-20:]))

    def _drain(self):
        for _ in self.process.stdout:
            pass

    def stop(self):
        """Terminate anvil (kill after 5 s) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
