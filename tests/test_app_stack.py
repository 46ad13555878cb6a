"""The local stack behind the web page (issue 28): ``serve --web`` static files,
``/deployment.json``, the ``/anvil`` proxy, ``l1.app.Stack`` and ``python -m l1.app``.

Every wait polls for its condition under a deadline; nothing sleeps for luck.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from l1.testing import ensure_node_deps
from rollup_host import start_in_thread
from rollup_host.web import MAX_PROXY_BODY, attach

pytestmark = pytest.mark.integration


REPO = Path(__file__).resolve().parent.parent
DEADLINE = 120.0  # seconds for the stack to start or stop on a slow, shared machine

FILES = {  # path under the web dir -> expected content type
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "lib/mod.mjs": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "data/conf.json": "application/json",
    "img/logo.svg": "image/svg+xml",
    "img/shot.png": "image/png",
    "app.js.map": "application/json",
    "favicon.ico": "image/x-icon",
    "notes.bin": "application/octet-stream",
}


def _web_dir(tmp: Path) -> Path:
    """A page directory with one file per content type, a secret beside it (outside),
    a symlink leading out to it and one staying inside."""
    web = tmp / "web"
    for rel in FILES:
        (web / rel).parent.mkdir(parents=True, exist_ok=True)
        (web / rel).write_bytes(f"<{rel}>".encode())
    (tmp / "secret.txt").write_text("secret")
    (web / "leak.txt").symlink_to(tmp / "secret.txt")
    (web / "alias.css").symlink_to(web / "style.css")
    return web


def _raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET with the path sent exactly as given (requests would normalize ``..``)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


@pytest.fixture()
def host():
    server, url = start_in_thread()
    try:
        yield server, url
    finally:
        server.stop()


def test_without_web_the_root_answers_as_before(host):
    server, url = host
    for path in ("/", "/index.html", "/deployment.json"):
        answer = requests.get(url + path, timeout=10)
        assert answer.status_code == 404
        assert answer.json() == {"error": f"no route GET {path}"}
    assert requests.post(url + "/anvil", data=b"{}", timeout=10).status_code == 404


def test_static_files_types_and_traversal(host, tmp_path):
    server, url = host
    attach(server, web_dir=_web_dir(tmp_path))
    root = requests.get(url + "/", timeout=10)
    assert (root.status_code, root.content) == (200, b"<index.html>")
    assert root.headers["Content-Type"] == "text/html; charset=utf-8"
    assert root.headers["Cache-Control"] == "no-cache"
    for rel, kind in FILES.items():
        answer = requests.get(f"{url}/{rel}?v=1", timeout=10)
        assert (answer.status_code, answer.content) == (200, f"<{rel}>".encode()), rel
        assert answer.headers["Content-Type"] == kind, rel
        assert answer.headers["Cache-Control"] == "no-cache", rel
    assert requests.get(url + "/alias.css", timeout=10).content == b"<style.css>"
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/lib/../../secret.txt",
                 "/lib/%2E%2E/%2E%2E/secret.txt", "/leak.txt", f"/{tmp_path}/secret.txt",
                 f"/%2F{str(tmp_path).lstrip('/')}/secret.txt", "/lib", "/lib/", "/nope.js",
                 "/index.html%00.js", "/..%5Csecret.txt"):
        status, body = _raw_get(url, path)
        assert status == 404, (path, body)
        assert b"secret" != body
    # The host's own routes still win over the page's.
    assert requests.get(url + "/dev/status", timeout=10).json()["rollups"] == "v2"


def test_deployment_json_and_an_unreachable_l1(host, tmp_path):
    server, url = host
    deployment = {"chain_id": 31337, "application": "0x" + "ab" * 20,
                  "rpc_url": "http://127.0.0.1:9"}  # discard port: nothing listens
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(deployment))
    attach(server, deployment=path)
    answer = requests.get(url + "/deployment.json", timeout=10)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-cache"
    assert answer.json() == {**deployment, "name": "streamable-token"}
    assert requests.get(url + "/", timeout=10).status_code == 404  # no --web: no page
    down = requests.post(url + "/anvil", data=b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}',
                         timeout=30)
    assert down.status_code == 502 and "unreachable" in down.json()["error"]
    assert down.headers["Access-Control-Allow-Origin"] == "*"
    too_big = requests.post(url + "/anvil", data=b" " * (MAX_PROXY_BODY + 1), timeout=30)
    assert too_big.status_code == 413
    preflight = requests.options(url + "/anvil", timeout=10)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"


def test_a_slow_l1_call_does_not_block_other_requests(host):
    """One thread per connection: a proxied call waiting on the L1 leaves the host free."""
    server, url = host
    arrived, release = threading.Event(), threading.Event()

    class SlowL1(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            arrived.set()
            release.wait(30)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    l1 = HTTPServer(("127.0.0.1", 0), SlowL1)
    threading.Thread(target=l1.serve_forever, daemon=True).start()
    try:
        attach(server, deployment={"rpc_url": f"http://127.0.0.1:{l1.server_address[1]}"})
        answers: list[requests.Response] = []
        slow = threading.Thread(target=lambda: answers.append(
            requests.post(url + "/anvil", data=b'{"echo":1}', timeout=30)))
        slow.start()
        assert arrived.wait(30)
        assert requests.get(url + "/dev/status", timeout=10).status_code == 200
        assert not answers  # still waiting on the L1
        release.set()
        slow.join(30)
        assert answers[0].status_code == 200 and answers[0].json() == {"echo": 1}
    finally:
        release.set()
        l1.shutdown()
        l1.server_close()


# -- the real stack (anvil, contracts, host, dapp.py, bridge)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie awaiting its reaper counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] != "Z"


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        out.update(int(c) for c in (task / "children").read_text().split())
    return out


def _rpc(url: str, method: str, *params: object) -> object:
    answer = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                      "params": list(params)}, timeout=30)
    answer.raise_for_status()
    return answer.json()["result"]


def _until(condition, what: str, deadline: float = DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    ensure_node_deps()
    from l1.app import Stack

    tmp = tmp_path_factory.mktemp("app")
    with Stack(tmp, port=0, block_time=None, epoch_length=4, web_dir=_web_dir(tmp)) as s:
        yield s


@pytest.mark.l1
def test_stack_serves_page_deployment_and_proxies_anvil(stack):
    from l1.app import TEST_ACCOUNTS, TEST_TOKENS

    assert requests.get(stack.url + "/", timeout=10).content == b"<index.html>"
    dep = requests.get(stack.url + "/deployment.json", timeout=10).json()
    assert dep == {**json.loads(stack.deployment_path.read_text()), "name": "streamable-token"}
    proxy = stack.url + "/anvil"
    assert _rpc(proxy, "eth_chainId") == _rpc(stack.anvil.url, "eth_chainId") == hex(31337)
    batch = requests.post(proxy, json=[{"jsonrpc": "2.0", "id": i, "method": "eth_blockNumber"}
                                       for i in (1, 2)], timeout=30).json()
    assert [a["id"] for a in batch] == [1, 2]
    for index in TEST_ACCOUNTS:
        assert stack.token.call("balanceOf", stack.accounts[index]) == TEST_TOKENS * 10 ** 18


@pytest.mark.l1
def test_stack_feeds_an_input_from_l1_to_the_dapp(stack):
    """The bridge and dapp.py are wired: an input added on L1 is processed by the DApp."""
    from l1.contracts import at

    input_box = at(stack.rpc, "InputBox", stack.deployment["input_box"])
    op = {"op": "withdraw", "token": stack.deployment["token"], "amount": "1"}  # nothing to withdraw
    input_box.transact("addInput", stack.deployment["application"], json.dumps(op).encode(),
                       sender=stack.accounts[1])

    def processed() -> int:
        answer = _rpc(stack.url + "/rpc", "cartesi_getProcessedInputCount", "streamable-token")
        return int(answer["data"], 16)

    _until(lambda: processed() == 1, "the DApp to process the input")
    inputs = requests.post(stack.url + "/rpc", json={
        "jsonrpc": "2.0", "id": 1, "method": "cartesi_listInputs",
        "params": {"application": "streamable-token"}}, timeout=30).json()["result"]["data"]
    assert [i["status"] for i in inputs] == ["REJECTED"]


@pytest.mark.l1
def test_make_app_entry_point_prints_the_url_serves_and_stops_on_sigint(tmp_path):
    ensure_node_deps()
    web = _web_dir(tmp_path)
    out = tmp_path / "deployment.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "l1.app", "--web", str(web), "--out", str(out), "--port", "0",
         "--anvil-port", "0", "--quiet-bridge"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        stdin=subprocess.DEVNULL)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []

    def next_line(end: float) -> str | None:
        line = lines.get(timeout=max(0.0, end - time.monotonic()))
        if line is not None:
            seen.append(line)
        return line

    try:
        end = time.monotonic() + DEADLINE
        url = pids = None
        while url is None:
            line = next_line(end)
            assert line is not None, f"l1.app exited early:\n" + "\n".join(seen)
            if line.startswith("processes: "):
                pids = {int(word.strip(",")) for word in line.split()[2::2]}
            if line.startswith("page: "):
                url = line[len("page: "):]
        hint = next_line(end)
        assert hint and hint.startswith("try it:") and "1,000 TST" in hint, seen
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        assert pids is not None and len(pids) == 2 and _children(proc.pid) == pids, seen
        assert requests.get(url, timeout=10).content == b"<index.html>"
        dep = requests.get(url + "deployment.json", timeout=10).json()
        assert dep == {**json.loads(out.read_text()), "name": "streamable-token"}
        assert _rpc(url + "anvil", "eth_chainId") == hex(31337)

        proc.send_signal(signal.SIGINT)
        assert proc.wait(DEADLINE) == 0, seen
        while next_line(time.monotonic() + 10) is not None:
            pass
        assert seen[-1] == "stopped", seen
        _until(lambda: not any(_alive(pid) for pid in pids), "the stack's processes to end", 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
