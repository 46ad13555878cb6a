"""Local Cartesi rollup host: the rollup HTTP API the DApp talks to, plus a dev side.

The server ties the pieces together, one concern per module:

* ``state``: ``HostState``, the rollup's state machine (queue, request in flight,
  finished inputs and their outputs, block), guarded by one condition, no HTTP;
* ``model``: ``HostConfig``, ``HostRequest``, ``HostError`` and the statuses;
* ``attempts``: the id of each delivery of a request, so a late call is refused (409);
* ``chain_file``: the chain kept on disk across restarts and its replay;
* ``handler``: ``Handler``, reading requests and writing answers on a keep-alive connection;
* ``routes``: what each route does (rollup side, developer side, node inspect and ``/rpc``);
* ``rpc``: ``NodeApi``, the node's JSON-RPC API over the state.

``RollupHostServer`` owns one ``HostState`` and one ``NodeApi``; ``start_in_thread`` runs
one on an ephemeral port for tests and notebooks.
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .handler import Handler
from .model import HostConfig
from .rpc import NodeApi
from .state import HostState

if TYPE_CHECKING:
    from .web import WebApp

__all__ = [
    "RollupHostServer",
    "make_server",
    "serve_in_thread",
    "start_in_thread",
]


class RollupHostServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` that owns one ``HostState``.

    One thread per connection: the DApp's long-poll on ``/finish`` must not block the
    developer's ``/dev/advance`` that will end it.
    """

    daemon_threads = True
    request_queue_size = 64
    web: WebApp | None = None  # the page's routes, set by rollup_host.web.attach

    def __init__(self, address: tuple[str, int], host: HostState) -> None:
        self.host = host
        self.node = NodeApi(host)  # POST /rpc and /dev/claim
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        addr, port = self.server_address[:2]
        return f"http://{addr}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client drops its connection; report anything else."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def stop(self) -> None:
        """Wake long-polls, stop ``serve_forever`` (if running) and close the socket."""
        self.host.close()
        if getattr(self, "_serving", False):
            self.shutdown()
        self.server_close()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._serving = True
        try:
            super().serve_forever(poll_interval)
        finally:
            self._serving = False


def make_server(host: str = "127.0.0.1", port: int = 5004,
                **options: Any) -> RollupHostServer:
    """Bind a server (``port=0`` picks a free port); ``options`` are ``HostConfig`` fields."""
    return RollupHostServer((host, port), HostState(HostConfig(**options)))


def serve_in_thread(server: RollupHostServer) -> None:
    """Run ``server`` in a daemon thread; return once it serves, so ``stop()`` can end it."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="rollup-host", daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not getattr(server, "_serving", False) and time.monotonic() < deadline:
        time.sleep(0.001)


def start_in_thread(port: int = 0, host: str = "127.0.0.1",
                    **options: Any) -> tuple[RollupHostServer, str]:
    """Start a server in a daemon thread; return it and its base URL.

    For tests and notebooks: call ``server.stop()`` when done.
    """
    server = make_server(host, port, **options)
    serve_in_thread(server)
    return server, server.url
