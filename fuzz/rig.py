"""The HTTP side of the reliability tests: a fault-injecting proxy, dapp.py in a process or
a thread, and the comparison of what the rollup host recorded with a clean replay.

Everything binds to 127.0.0.1 only.
"""
from __future__ import annotations

import http.client
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from fuzz.harness import Node
from streamable_token.rollup.router import Output

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOOPBACK = "127.0.0.1"

# Faults the proxy can inject. "before": the request never reaches the host; "after": the
# host handled it and the answer is lost or mangled.
FAULTS = (
    "500_before",      # the server answers 500 without doing anything
    "500_after",       # the server did it, then answered 500
    "close_before",    # the connection drops before the request is handled
    "close_after",     # handled, then the connection drops before the answer
    "timeout_before",  # no answer within the client's timeout, not handled
    "timeout_after",   # handled, but the answer comes too late (the client gave up)
    "garbage_after",   # handled, answered 200 with a body that is not the expected JSON
)
# A 2xx for an output is success by the API, so lying with one would be undetectable: the
# proxy mangles only /finish answers with garbage before handling them.
GARBAGE_BEFORE = "garbage_before"
# The request is held, neither forwarded nor answered (the client gives up on it), until
# ``FaultProxy.release`` delivers it to the host late, as a stalled proxy would.
STALL = "stall"


class Plan:
    """Which request gets which fault; n counts the requests to a path from 1.

    ``script`` maps (path, n) -> fault for exact placements; ``anywhere`` maps m -> fault
    for the m-th request the proxy sees, whatever its path; ``every`` maps a path to k:
    every k-th request to it gets the next kind in turn (so each kind hits each path);
    otherwise, seeded random: a request to one of ``paths`` gets a fault with
    probability ``rate``."""

    def __init__(self, rate: float = 0.0, seed: int = 0, faults: tuple[str, ...] = FAULTS,
                 paths: tuple[str, ...] = ("/finish", "/notice", "/voucher", "/report"),
                 script: Optional[dict[tuple[str, int], str]] = None,
                 every: Optional[dict[str, int]] = None,
                 anywhere: Optional[dict[int, str]] = None) -> None:
        self.rate, self.faults, self.paths = rate, faults, paths
        self.rng = random.Random(seed)
        self.script = dict(script or {})
        self.every = every or {}
        self.anywhere = dict(anywhere or {})
        self.seen = 0  # requests of any path so far (the proxy asks once per request)

    def kinds(self, path: str) -> tuple[str, ...]:
        return self.faults + ((GARBAGE_BEFORE,) if path == "/finish" else ())

    def choose(self, path: str, n: int) -> Optional[str]:
        self.seen += 1
        if self.seen in self.anywhere:
            return self.anywhere[self.seen]
        if (path, n) in self.script:
            return self.script[(path, n)]
        k = self.every.get(path)
        if k and n % k == 0:  # every k-th request to this path, cycling through the kinds
            kinds = self.kinds(path)
            return kinds[(n // k - 1) % len(kinds)]
        if path in self.paths and self.rate and self.rng.random() < self.rate:
            return self.rng.choice(self.kinds(path))
        return None


class FaultProxy(ThreadingHTTPServer):
    """Forwards the rollup API to ``upstream`` and injects the faults ``plan`` asks for.

    ``hold`` is how long a timeout fault keeps the client waiting (longer than its
    timeout). A fault named ``kill`` calls ``on_kill`` (e.g. SIGKILL of dapp.py) and drops
    the request unhandled; ``kill_after`` forwards the request, hands the answer over and
    then calls ``on_kill``, so the kill lands while the DApp is busy with whatever comes
    next (a transaction, the next output), wherever the scheduler has got it to.
    ``injected`` lists (path, n, fault) in order. A ``stall`` fault parks the request
    unanswered; ``release(path, n)`` forwards it then (its answer goes to ``late``).
    ``before`` maps (path, n) to a call made before that request is handled (e.g. a
    release: a stalled request delivered late, placed by count). Answers keep the host's
    ``X-Rollup-*`` headers.
    """

    daemon_threads = True

    def __init__(self, upstream: str, plan: Plan, hold: float = 0.8,
                 on_kill: Optional[Callable[[], None]] = None,
                 before: Optional[dict[tuple[str, int], Callable[[], None]]] = None) -> None:
        self.upstream = urlsplit(upstream)
        self.plan = plan
        self.hold = hold
        self.on_kill = on_kill
        self.before = dict(before or {})
        self.lock = threading.Lock()
        self.seen: Counter = Counter()
        self.injected: list[tuple[str, int, str]] = []
        self.parked: dict[tuple[str, int], tuple[str, str, dict[str, str], bytes]] = {}
        self.late: list[tuple[str, int, int, bytes]] = []  # (path, n, status, body) of released ones
        super().__init__((LOOPBACK, 0), _ProxyHandler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def decide(self, path: str) -> tuple[int, Optional[str]]:
        with self.lock:
            self.seen[path] += 1
            n = self.seen[path]
            fault = self.plan.choose(path, n)
            if fault:
                self.injected.append((path, n, fault))
            return n, fault

    def release(self, path: str, n: int) -> tuple[int, bytes]:
        """Deliver the stalled request (path, n) to the host now; return its answer."""
        method, target, headers, body = self.parked.pop((path, n))
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        try:
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            answer = resp.status, resp.read()
        finally:
            conn.close()
        self.late.append((path, n, *answer))
        return answer

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # dropped connections are the point


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultProxy

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.upstream_conn: Optional[http.client.HTTPConnection] = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "content-length")}

    def _forward(self, body: bytes) -> tuple[int, bytes, list[tuple[str, str]]]:
        up = self.server.upstream
        if self.upstream_conn is None:
            self.upstream_conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        self.upstream_conn.request(self.command, self.path, body=body, headers=self._headers())
        resp = self.upstream_conn.getresponse()
        return resp.status, resp.read(), [(k, v) for k, v in resp.getheaders() if k.lower().startswith("x-rollup-")]

    def _answer(self, status: int, data: bytes, extra: Optional[list[tuple[str, str]]] = None) -> None:
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra or ():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        n, fault = self.server.decide(path)
        hook = self.server.before.get((path, n))
        if hook is not None:
            hook()
        if fault == STALL:  # parked unanswered: the client gives up; release() delivers it late
            self.server.parked[(path, n)] = (self.command, self.path, self._headers(), body)
            return None
        if fault == "kill":
            if self.server.on_kill:
                self.server.on_kill()
            return self._drop()
        if fault == "kill_after":
            self._answer(*self._forward(body))
            if self.server.on_kill:
                self.server.on_kill()
            return self._drop()
        if fault == "500_before":
            return self._answer(500, b'{"error":"injected"}')
        if fault == "close_before":
            return self._drop()
        if fault == "timeout_before":
            time.sleep(self.server.hold)
            return self._drop()
        if fault == GARBAGE_BEFORE:
            return self._answer(200, b'{"request_type": "advance_state", "da')
        status, data, extra = self._forward(body)
        if fault == "500_after":
            return self._answer(500, b'{"error":"injected after"}')
        if fault == "close_after":
            return self._drop()
        if fault == "timeout_after":
            time.sleep(self.server.hold)
            return self._drop()
        if fault == "garbage_after":
            return self._answer(200, b"<html>502 Bad Gateway</html>" if path == "/finish" else b"not json")
        self._answer(status, data, extra)

    do_POST = _handle  # noqa: N815
    do_GET = _handle  # noqa: N815


# --- dapp.py ------------------------------------------------------------------------


class DappProcess:
    """``dapp.py --db DB --url URL`` as a child process; its log goes to ``log_path``."""

    def __init__(self, db: str, url: str, log_path: str, env: Optional[dict] = None) -> None:
        self.db, self.url, self.log_path = db, url, log_path
        self.env = dict(os.environ, **(env or {}))
        self.proc: Optional[subprocess.Popen] = None
        self.starts = 0

    def start(self) -> "DappProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, os.path.join(REPO, "dapp.py"), "--db", self.db, "--url", self.url],
                                     cwd=REPO, stdout=log, stderr=log, env=self.env)
        log.close()
        self.starts += 1
        return self

    def kill(self) -> None:
        """SIGKILL: no handler runs, no buffer is flushed, SQLite gets no chance to tidy up."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        with open(self.log_path, errors="replace") as fh:
            return fh.read()


class _Stopped(BaseException):
    """Raised inside the DApp thread's HTTP calls to end dapp.main."""


class DappThread:
    """``dapp.main`` in a thread, with short HTTP timeouts and backoff so faults cost
    little time. Only ``RollupClient``'s constructor and connection are adapted; the loop,
    the retry logic and the router are the real ones."""

    def __init__(self, db: str, url: str, timeout: float = 0.5, max_backoff: float = 0.2) -> None:
        self.db, self.url, self.timeout, self.max_backoff = db, url, timeout, max_backoff
        self.stop_event = threading.Event()
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, name="dapp", daemon=True)

    def _run(self) -> None:
        import dapp

        rig = self

        class Client(dapp.RollupClient):
            def __init__(self, url: str, max_backoff: float = 5.0) -> None:
                super().__init__(url, max_backoff=rig.max_backoff)
                post = self.http.post

                def clamped(path, body, timeout, headers=None):
                    if rig.stop_event.is_set():
                        raise _Stopped()
                    return post(path, body, min(timeout or rig.timeout, rig.timeout), headers)

                self.http.post = clamped

        original = dapp.RollupClient
        dapp.RollupClient = Client
        try:
            dapp.main(["--db", self.db, "--url", self.url])
        except _Stopped:
            pass
        except BaseException as err:  # surfaced by stop()
            self.error = err
        finally:
            dapp.RollupClient = original

    def start(self) -> "DappThread":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the DApp thread did not stop"
        if self.error is not None:
            raise self.error


class LogRecords(logging.Handler):
    """Collects the records of one logger tree (e.g. "dapp") while installed."""

    def __init__(self, name: str = "dapp") -> None:
        super().__init__(logging.DEBUG)
        self.name_ = name
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> "LogRecords":
        logger = logging.getLogger(self.name_)
        self.old_level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        logger = logging.getLogger(self.name_)
        logger.removeHandler(self)
        logger.setLevel(self.old_level)

    def messages(self, level: int = logging.WARNING) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]


# --- waiting and comparing -----------------------------------------------------------


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, poll: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


def drained(host) -> bool:
    """The host has nothing queued and nothing in flight."""
    status = host.status()
    return status["queued"] == 0 and status["in_flight"] is None


def record_of(kind_outputs: list[Output], status: str) -> dict:
    """What the host keeps of an input processed with these outputs (payloads only)."""
    accepted = status == "accept"
    return {
        "status": {"accept": "accepted", "reject": "rejected"}[status],
        "notices": [o.body["payload"] for o in kind_outputs if o.kind == "notice" and accepted],
        "vouchers": [dict(o.body) for o in kind_outputs if o.kind == "voucher" and accepted],
        "reports": [o.body["payload"] for o in kind_outputs if o.kind == "report"],
    }


def host_record(result: dict) -> dict:
    """The same view of one of the host's finished inputs."""
    return {
        "status": result["status"],
        "notices": [n["payload"] for n in result["notices"]],
        "vouchers": [{k: v for k, v in x.items() if k != "index"} for x in result["vouchers"]],
        "reports": [r["payload"] for r in result["reports"]],
    }


def replay_host_inputs(finished: list[dict], node: Optional[Node] = None) -> tuple[Node, list[dict]]:
    """Replay the inputs the host delivered (same metadata, same payloads) on a fresh node
    through the router directly: the reference an interrupted run must equal."""
    node = node or Node()
    expected = []
    for item in finished:
        result = node.advance_raw(item["metadata"], item["payload"])
        expected.append(record_of(result.outputs, result.status))
    return node, expected


def output_indices_are_dense(finished: list[dict]) -> bool:
    """v2: notices and vouchers of accepted inputs share one index space, 0, 1, 2, ..."""
    indices = []
    for item in finished:
        indices += [o["index"] for o in item["notices"] + item["vouchers"]]
    return sorted(indices) == list(range(len(indices)))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def dump_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
