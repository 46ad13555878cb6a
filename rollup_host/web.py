"""The web page's side of the host: static files, ``/deployment.json`` and ``/anvil``.

Serving the page from the host puts it on the same origin as ``/rpc`` and
``/inspect/<app>``, so a browser needs no CORS for the node API. The page learns every
address from ``GET /deployment.json`` (never from a library default), and reaches the L1
node through ``POST /anvil``, the same-origin JSON-RPC proxy the Cartesi CLI's devnet
offers at that path: a page that talks to ``<origin>/anvil`` works against both.

``serve --web DIR`` and ``serve --deployment FILE`` attach a ``WebApp`` to the server
(``attach``); ``Handler`` asks it only for paths none of its own routes takes, so
``make run`` (neither flag) answers exactly as before.
"""

from __future__ import annotations

import http.client
import json
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:  # import cycle: server imports nothing from here at runtime but the type
    from .handler import Handler
    from .server import RollupHostServer

__all__ = ["CONTENT_TYPES", "MAX_PROXY_BODY", "WebApp", "attach"]

MAX_PROXY_BODY = 1 << 20  # as /rpc: the node's request cap (1 MiB)
PROXY_TIMEOUT = 60.0  # seconds for the L1 node to answer one call
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".map": "application/json",
    ".ico": "image/x-icon",
}
_DEFAULT_TYPE = "application/octet-stream"
_PHRASES = {status.value for status in HTTPStatus}


class WebApp:
    """What ``--web`` and ``--deployment`` add to a host; stateless after construction,
    so the server's one thread per connection needs no lock here.

    ``web_dir``: the page's directory (``GET /`` is its ``index.html``). ``deployment``:
    the deployment JSON object (``GET /deployment.json`` answers it plus ``name``; its
    ``rpc_url`` is where ``POST /anvil`` forwards). Either may be None.
    """

    def __init__(self, web_dir: str | Path | None, deployment: dict[str, Any] | None,
                 name: str) -> None:
        self.root = Path(web_dir).resolve() if web_dir is not None else None
        if self.root is not None and not self.root.is_dir():
            raise ValueError(f"--web {web_dir}: not a directory")
        self.deployment = None if deployment is None else {**deployment, "name": name}
        self.rpc_url = None if deployment is None else deployment.get("rpc_url")

    def get(self, handler: Handler, path: str) -> bool:
        """Answer ``GET path`` if it is the page's; False (nothing sent) otherwise."""
        if path == "/deployment.json" and self.deployment is not None:
            _answer(handler, 200, json.dumps(self.deployment).encode(), "application/json",
                    "Cache-Control: no-cache\r\n")
            return True
        file = self.file_for(path)
        if file is None:
            return False
        data = file.read_bytes()
        _answer(handler, 200, data, CONTENT_TYPES.get(file.suffix.lower(), _DEFAULT_TYPE),
                "Cache-Control: no-cache\r\n")
        return True

    def post(self, handler: Handler, path: str, body: bytes, cors: str) -> bool:
        """Answer ``POST /anvil`` by forwarding ``body``; False for any other path."""
        if path != "/anvil" or self.rpc_url is None:
            return False
        if len(body) > MAX_PROXY_BODY:
            _answer(handler, 413, _error(f"body over {MAX_PROXY_BODY} bytes"),
                    "application/json", cors)
            return True
        try:
            status, data, kind = forward(self.rpc_url, body)
        except (OSError, http.client.HTTPException) as exc:
            _answer(handler, 502, _error(f"L1 node at {self.rpc_url} unreachable: {exc}"),
                    "application/json", cors)
            return True
        _answer(handler, status, data, kind, cors)
        return True

    def file_for(self, path: str) -> Path | None:
        """The regular file ``path`` names inside the web directory, or None: ``..``
        segments, absolute paths, NUL bytes and symlinks leading outside are refused."""
        if self.root is None:
            return None
        rel = unquote(path).lstrip("/") or "index.html"
        if "\0" in rel or rel.startswith("/") or ".." in rel.split("/") or "\\" in rel:
            return None
        try:
            file = (self.root / rel).resolve()
        except (OSError, RuntimeError):  # a symlink loop
            return None
        if not file.is_relative_to(self.root) or not file.is_file():
            return None
        return file


def forward(rpc_url: str, body: bytes) -> tuple[int, bytes, str]:
    """POST ``body`` to the L1 node as JSON; its status, body and content type.

    A fresh connection per call: loopback connects cost ~0.1 ms, and nothing is shared
    between the server's threads. Headers and body leave in one segment (bytes body)."""
    url = urlsplit(rpc_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80,
                                      timeout=PROXY_TIMEOUT)
    try:
        conn.request("POST", url.path or "/", body=body,
                     headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, answer.read(), answer.getheader("Content-Type") or "application/json"
    finally:
        conn.close()


def attach(server: RollupHostServer, web_dir: str | Path | None = None,
           deployment: str | Path | dict[str, Any] | None = None) -> RollupHostServer:
    """Give ``server`` the page's routes (a path or the object for ``deployment``);
    with neither argument it stays as it was. Returns ``server``."""
    if isinstance(deployment, (str, Path)):
        with open(deployment) as fh:
            deployment = json.load(fh)
        if not isinstance(deployment, dict):
            raise ValueError("the deployment must be a JSON object")
    if web_dir is not None or deployment is not None:
        server.web = WebApp(web_dir, deployment, server.host.config.name)
    return server


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def _answer(handler: Handler, status: int, data: bytes, kind: str, headers: str = "") -> None:
    """One write with the given content type (``Handler.reply`` writes JSON only)."""
    if handler.server.host.config.verbose:
        handler.log_request(status, len(data))
    phrase = HTTPStatus(status).phrase if status in _PHRASES else ""
    head = (f"HTTP/1.1 {status} {phrase}\r\nContent-Type: {kind}\r\n"
            f"{headers}Content-Length: {len(data)}\r\n\r\n")
    handler.wfile.flush()
    handler.connection.sendall(head.encode("latin-1") + data)
