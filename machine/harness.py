"""Drive the Cartesi machine that machine/build.sh makes, and dapp.py natively, on the same inputs.

Inside: ``cartesi-machine.lua --load=<snapshot>`` (stored at dapp.py's first ``/finish``)
``--cmio-advance-state`` over ABI-encoded ``EvmAdvance`` input files, then at most one
``--cmio-inspect-state`` query, in the chroot where the emulator was built. Reverts are the
CLI's default (a forked remote machine per input, ``--remote-spawn``), so a rejected input
or an inspect leaves the machine as it was, as on a node. The CLI's ``Cycles:`` lines at
each yield give the mcycles each input took.

Natively: the same requests, as the in-machine shim (machine/guest/rollup-shim.c) formats
them, served to ``python dapp.py`` by a small HTTP server here, and its outputs encoded as
the machine writes them (``Notice(bytes)``, ``Voucher(address,uint256,bytes)``, reports
raw), so both runs compare byte for byte.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from l1.codec import encode_evm_advance, encode_notice, encode_voucher  # noqa: E402
from rollup_host.codec import (  # noqa: E402
    DEFAULT_APP_ADDRESS,
    DEFAULT_CHAIN_ID,
    block_timestamp,
    erc20_deposit_payload,
    prev_randao,
)

ERC20_PORTAL = "0xc700D6aDd016eECd59d989C028214Eaa0fCC0051"  # v2 devnet: dapp.py's default


# ------------------------------------------------------------------------ inputs

@dataclass
class Request:
    """One advance (sender, block, payload) or inspect (payload) request, with a kind label."""

    kind: str
    inspect: bool
    payload: bytes
    sender: str = ""
    block: int = 0
    index: int = -1  # advance input index, set by Scenario
    # metadata a log gives; None: the local host's (chain 31337, its app, its block clock)
    chain_id: Optional[int] = None
    app: Optional[str] = None
    timestamp: Optional[int] = None
    randao: Optional[int] = None

    def _meta(self) -> tuple[int, str, int, int]:
        return (DEFAULT_CHAIN_ID if self.chain_id is None else self.chain_id,
                DEFAULT_APP_ADDRESS if self.app is None else self.app,
                block_timestamp(self.block) if self.timestamp is None else self.timestamp,
                int(prev_randao(self.block), 16) if self.randao is None else self.randao)

    def metadata(self) -> dict:
        """The metadata as the shim sends it: lowercase 0x-hex addresses and randao, ints."""
        chain_id, app, timestamp, randao = self._meta()
        return {
            "chain_id": chain_id,
            "app_contract": app.lower(),
            "msg_sender": self.sender.lower(),
            "block_number": self.block,
            "block_timestamp": timestamp,
            "prev_randao": "0x" + randao.to_bytes(32, "big").hex(),
            "input_index": self.index,
        }

    def evm_advance(self) -> bytes:
        chain_id, app, timestamp, randao = self._meta()
        return encode_evm_advance(chain_id, app, self.sender, self.block, timestamp, randao,
                                  self.index, self.payload)

    def finish_body(self) -> dict:
        if self.inspect:
            return {"request_type": "inspect_state", "data": {"payload": "0x" + self.payload.hex()}}
        return {"request_type": "advance_state",
                "data": {"metadata": self.metadata(), "payload": "0x" + self.payload.hex()}}


class Scenario:
    """An ordered list of requests; advances get consecutive input indices."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.advances = 0

    def advance(self, kind: str, sender: str, block: int, payload: bytes | str | dict) -> Request:
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
        elif isinstance(payload, str):
            payload = payload.encode()
        req = Request(kind, False, payload, sender, block, self.advances)
        self.advances += 1
        self.requests.append(req)
        return req

    def deposit(self, token: str, sender: str, amount: int, block: int, exec_layer_data: bytes = b"",
                kind: str = "deposit") -> Request:
        return self.advance(kind, ERC20_PORTAL, block,
                            erc20_deposit_payload(token, sender, amount, exec_layer_data, rollups="v2"))

    def inspect(self, kind: str, query: str) -> Request:
        req = Request(kind, True, query.encode())
        self.requests.append(req)
        return req


@dataclass
class Result:
    """What one request gave: accept/reject/exception, outputs (encoded) and reports."""

    status: str
    outputs: list[bytes] = field(default_factory=list)
    reports: list[bytes] = field(default_factory=list)
    mcycles: Optional[int] = None  # machine only

    def same_as(self, other: "Result") -> bool:
        return (self.status, self.outputs, self.reports) == (other.status, other.outputs, other.reports)


# ------------------------------------------------------------------------ the machine

class Machine:
    """The built machine: its chroot, its env.sh, its snapshot."""

    def __init__(self, machine_dir: str | Path) -> None:
        self.dir = Path(machine_dir)
        self.chroot = Path((self.dir / "chroot").read_text().strip())
        self.inside = "/" + str(self.dir.relative_to(self.chroot))  # the dir as the chroot sees it
        self.boot_mcycles = int((self.dir / "boot-mcycles").read_text().strip())
        self._mounted: list[str] = []

    @classmethod
    def build(cls, only_cached: bool = False) -> "Machine":
        """machine/build.sh (cached: a hash of the inputs and nothing more). Raises
        MachineUnavailable when it exits 77 (no root, no sources, nothing cached; or not
        cached and ``only_cached``)."""
        env = dict(os.environ, MACHINE_NO_BUILD="1") if only_cached else None
        proc = subprocess.run(["bash", str(REPO / "machine" / "build.sh")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
        if proc.returncode == 77:
            raise MachineUnavailable(proc.stderr.strip())
        if proc.returncode != 0:
            raise RuntimeError(f"machine/build.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        return cls(proc.stdout.strip().splitlines()[-1])

    def __enter__(self) -> "Machine":
        for target, args in (("proc", ["-t", "proc", "proc"]), ("dev", ["--bind", "/dev"])):
            path = str(self.chroot / target)
            if subprocess.run(["mountpoint", "-q", path]).returncode != 0:
                subprocess.run(["mount", *args, path], check=True)
                self._mounted.append(path)
        return self

    def __exit__(self, *exc) -> None:
        for path in reversed(self._mounted):
            subprocess.run(["umount", path], check=False)
        self._mounted.clear()

    def cli(self, work: Path, args: list[str], timeout: float = 3600) -> str:
        """cartesi-machine.lua from the snapshot, in ``work`` (a directory inside the chroot);
        returns its stderr+stdout."""
        inside = "/" + str(work.relative_to(self.chroot))
        script = (f". {self.inside}/env.sh && cd {inside} && exec cartesi-machine.lua --remote-spawn "
                  f"--remote-shutdown --load={self.inside}/snapshot " + " ".join(shlex.quote(a) for a in args))
        proc = subprocess.run(["chroot", str(self.chroot), "/usr/bin/env", "-i", "PATH=/usr/bin:/bin",
                               "HOME=/root", "bash", "-c", script],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        (work / "cli.log").write_text(proc.stdout)
        if proc.returncode != 0:
            raise RuntimeError(f"cartesi-machine exited {proc.returncode}:\n{proc.stdout[-4000:]}")
        return proc.stdout

    def workdir(self) -> Path:
        base = self.chroot / "tmp"
        return Path(tempfile.mkdtemp(prefix="machine-run-", dir=base))

    def run(self, requests: list[Request]) -> list[Result]:
        """Advances in order, then at most one inspect last, in one CLI run from the snapshot."""
        advances = [r for r in requests if not r.inspect]
        inspects = [r for r in requests if r.inspect]
        assert len(inspects) <= 1 and (not inspects or requests[-1] is inspects[0]), "one inspect, last"
        assert [r.index for r in advances] == list(range(len(advances))), "advances from input 0"
        work = self.workdir()
        try:
            for r in advances:
                (work / f"input-{r.index}.bin").write_bytes(r.evm_advance())
            args = []
            if advances:
                args.append("--cmio-advance-state=" + ",".join([
                    "input:input-%i.bin", "input_index_begin:0", f"input_index_end:{len(advances)}",
                    "output:output-%o-input-%i.bin", "rejected_output:rejected-output-%o-input-%i.bin",
                    "report:input-%i-report-%o.bin", "output_proof:", "outputs_merkle_root:",
                    "outputs_merkle_root_proof:"]))
            if inspects:
                (work / "query.bin").write_bytes(inspects[0].payload)
                args.append("--cmio-inspect-state=query:query.bin,report:query-report-%o.bin")
            log = self.cli(work, args)
            return self._collect(work, log, advances, inspects)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _collect(self, work: Path, log: str, advances: list[Request], inspects: list[Request]) -> list[Result]:
        results: dict[object, Result] = {}
        current: object = None
        base: int = self.boot_mcycles  # the snapshot is at its first yield
        pending: Optional[str] = None
        for line in log.splitlines():
            m = re.match(r"Before input (\d+)", line)
            if m:
                current = int(m.group(1))
                continue
            if line.startswith("Before query"):
                current = "query"
                continue
            m = re.match(r"Manual yield (rx-accepted|rx-rejected)", line)
            if m:
                pending = m.group(1)
                continue
            if "tx-exception" in line:
                pending = "exception"
                continue
            m = re.match(r"Cycles: (\d+)", line)
            if m and pending:
                cycles = int(m.group(1))
                if current is None:
                    base = cycles  # the snapshot's own yield
                else:
                    status = {"rx-accepted": "accept", "rx-rejected": "reject"}.get(pending, pending)
                    results[current] = Result(status, mcycles=cycles - base)
                    if status == "accept" and current != "query":
                        base = cycles  # a reject or an inspect is reverted
                pending = None
        # the files, grouped by input in one pass over the directory
        files: dict[tuple, list[tuple[int, Path]]] = {}
        for p in work.iterdir():
            m = (re.fullmatch(r"(output|rejected-output)-(\d+)-input-(\d+)\.bin", p.name))
            if m:
                files.setdefault((m.group(1), int(m.group(3))), []).append((int(m.group(2)), p))
                continue
            m = re.fullmatch(r"input-(\d+)-report-(\d+)\.bin", p.name)
            if m:
                files.setdefault(("report", int(m.group(1))), []).append((int(m.group(2)), p))
                continue
            m = re.fullmatch(r"query-report-(\d+)\.bin", p.name)
            if m:
                files.setdefault(("report", "query"), []).append((int(m.group(1)), p))

        def read(key) -> list[bytes]:
            return [p.read_bytes() for _, p in sorted(files.get(key, []))]

        out: list[Result] = []
        for r in advances:
            res = results.get(r.index)
            if res is None:
                raise RuntimeError(f"input {r.index} has no final yield in the log:\n{log[-3000:]}")
            res.outputs = read(("output" if res.status == "accept" else "rejected-output", r.index))
            res.reports = read(("report", r.index))
            out.append(res)
        for _ in inspects:
            res = results.get("query")
            if res is None:
                raise RuntimeError(f"the query has no final yield in the log:\n{log[-3000:]}")
            res.reports = read(("report", "query"))
            out.append(res)
        return out

    def run_interleaved(self, requests: list[Request]) -> list[Result]:
        """Any order of advances and inspects: one run with every advance, plus one run per
        inspect with the advances before it (the machine reverts an inspect, so this is the
        state the inspect would see in sequence)."""
        advances = [r for r in requests if not r.inspect]
        by_id = {id(r): res for r, res in zip(advances, self.run(advances))} if advances else {}
        seen: list[Request] = []
        for r in requests:
            if r.inspect:
                by_id[id(r)] = self.run(seen + [r])[-1]
            else:
                seen.append(r)
        return [by_id[id(r)] for r in requests]


class MachineUnavailable(Exception):
    pass


# ------------------------------------------------------------------------ natively

class _Host(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_NativeServer"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        srv = self.server
        path = self.path
        if path == "/finish":
            srv.finished(body.get("status"))
            req = srv.next_request()
            if req is None:  # done: leave the DApp waiting; the caller stops it
                srv.done.set()
                srv.stop.wait(3600)
                return
            return self._send(200, req.finish_body())
        res = srv.current_result
        payload = bytes.fromhex(body.get("payload", "0x")[2:])
        if path == "/notice":
            res.outputs.append(encode_notice(payload))
            return self._send(201, {"index": len(res.outputs) - 1})
        if path == "/voucher":
            value = body.get("value", "0x" + "00" * 32)
            res.outputs.append(encode_voucher(body["destination"], value, payload))
            return self._send(201, {"index": len(res.outputs) - 1})
        if path == "/report":
            res.reports.append(payload)
            return self._send(202, None)
        if path == "/exception":
            res.status = "exception"
            srv.done.set()
            return self._send(202, None)
        return self._send(404, {"error": "no such route"})

    def setup(self) -> None:
        super().setup()
        # one segment per answer and no Nagle: a header write and a body write apart wait
        # ~40 ms for the delayed ACK on every call
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status: int, body) -> None:
        raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        head = (f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n")
        self.wfile.write(head.encode() + raw)
        self.wfile.flush()


class _NativeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, requests: list[Request]) -> None:
        super().__init__(("127.0.0.1", 0), _Host)
        self.queue = list(requests)
        self.results: list[Result] = []
        self.current_result: Optional[Result] = None
        self.first = True
        self.done = threading.Event()
        self.stop = threading.Event()

    def finished(self, status: Optional[str]) -> None:
        if self.first:
            self.first = False
            return
        self.current_result.status = status or "?"

    def next_request(self) -> Optional[Request]:
        if not self.queue:
            return None
        req = self.queue.pop(0)
        self.current_result = Result("?")
        self.results.append(self.current_result)
        return req


def run_native(requests: list[Request], python: str = sys.executable, db_dir: Optional[str] = None,
               timeout: float = 600) -> list[Result]:
    """dapp.py on this machine's Python, over the requests in order, on a fresh database."""
    server = _NativeServer(requests)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    tmp = tempfile.mkdtemp(prefix="machine-native-")
    db = os.path.join(db_dir or tmp, "dapp.sqlite")
    url = f"http://127.0.0.1:{server.server_address[1]}"
    log_path = os.path.join(tmp, "dapp.log")
    with open(log_path, "wb") as log:  # a file, not a pipe nobody reads while it runs
        proc = subprocess.Popen([python, str(REPO / "dapp.py"), "--db", db, "--url", url], cwd=str(REPO),
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        if not server.done.wait(timeout):
            raise RuntimeError("native dapp.py did not finish the requests")
        if proc.poll() is not None:
            with open(log_path, "rb") as fh:
                raise RuntimeError(f"native dapp.py exited: {fh.read().decode()[-2000:]}")
    finally:
        proc.kill()
        proc.wait()
        server.stop.set()
        server.shutdown()
        server.server_close()
        shutil.rmtree(tmp, ignore_errors=True)
    return server.results


# ------------------------------------------------------------------------ reporting

def mcycles_table(requests: list[Request], results: list[Result]) -> str:
    """A markdown table: mcycles per input, by kind (median, min, max, count)."""
    by_kind: dict[str, list[int]] = {}
    for req, res in zip(requests, results):
        by_kind.setdefault(req.kind, []).append(res.mcycles)
    lines = ["| input kind | count | mcycles (median) | min | max |", "|---|---:|---:|---:|---:|"]
    for kind, values in by_kind.items():
        values = sorted(values)
        median = values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2
        lines.append(f"| {kind} | {len(values)} | {median / 1e6:.2f} M | {values[0] / 1e6:.2f} M | {values[-1] / 1e6:.2f} M |")
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
