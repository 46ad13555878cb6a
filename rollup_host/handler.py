"""The HTTP side of the local host: reading requests, writing answers, routing errors.

``Handler`` serves one keep-alive connection: it reads each request (a DApp's call that
already sits whole in the read buffer in one read, anything else through the stdlib's
line-by-line reading with ``read_headers``), hands it to its route (``rollup_host.routes``)
and answers whatever error that raises. The server sets ``TCP_NODELAY`` and writes each
response in one buffered write with ``Content-Length`` over HTTP/1.1 keep-alive; without
that every round trip pays ~40 ms of Nagle + delayed-ACK.
"""

from __future__ import annotations

import email.parser
import functools
import http.client
import json
import re
import socket
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from .codec import InvalidField
from .model import HostError
from .routes import CORS_HEADERS, GET_ROUTES, POST_ROUTES, Route, inspect_route, node_inspect

if TYPE_CHECKING:
    from .server import RollupHostServer
    from .state import HostState

__all__ = ["Handler", "PlainHeaders", "read_headers"]

# A header line the ``email`` parser would read as one plain field: a name of visible
# characters other than ":", a value with no CR or LF inside; leading blanks are not kept.
_PLAIN_HEADER = re.compile(r"([!-9;-~]+):[ \t]*([^\r\n]*)\r?\n")  # on ISO-8859-1 text
_JSON = json.JSONEncoder(separators=(",", ":"))  # json.dumps(..., separators=) builds one per call
_MAX_LINE = 65536  # http.client's limits, so the same requests are refused
_MAX_HEADERS = 100
# A DApp's call as dapp.py and the usual HTTP clients send it: POST to a rollup route,
# HTTP/1.1, plain CRLF header lines (at most 99, as read_headers allows), a blank line.
_DAPP_CALL = re.compile(
    rb"POST (/finish|/notice|/voucher|/report|/exception) HTTP/1\.1\r\n"
    rb"((?:[!-9;-~]+:[ \t]*[^\r\n]*\r\n){0,99})\r\n"
)


class PlainHeaders:
    """The header lines of a request when every one is a plain ``Name: value``: read as
    ``http.client.HTTPMessage`` reads them (``get`` ignores case and gives the first
    line of a name, ``items`` keeps every line in order), without building an ``email``
    message, which costs more than all the rest of a small request."""

    __slots__ = ("_lines", "_first")

    def __init__(self, lines: list[tuple[str, str]]) -> None:
        self._lines = lines
        self._first: dict[str, str] = {}
        for name, value in lines:
            self._first.setdefault(name.lower(), value)

    def get(self, name: str, default: Any = None) -> Any:
        return self._first.get(name.lower(), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._lines)

    @classmethod
    def decoded(cls, block: bytes) -> PlainHeaders:
        """From plain header lines as read off the wire, decoded at once as ISO-8859-1
        (as http.client decodes them)."""
        return cls(_PLAIN_HEADER.findall(block.decode("iso-8859-1")))


def read_headers(rfile: Any, message_class: type) -> PlainHeaders | http.client.HTTPMessage:
    """``http.client.parse_headers`` with a fast path: the same lines read under the same
    limits (raising the same errors); when every line is a plain ``Name: value`` they
    are kept as ``PlainHeaders``. Anything else (folded lines, stray CRs, lines without
    a name) goes to the ``email`` parser, so what a name reads as never differs."""
    lines: list[bytes] = []
    while True:
        line = rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > _MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            break
    fields = [_PLAIN_HEADER.fullmatch(line.decode("iso-8859-1")) for line in lines[:-1]]
    if not all(fields):
        return email.parser.Parser(_class=message_class).parsestr(b"".join(lines).decode("iso-8859-1"))
    return PlainHeaders([(m[1], m[2]) for m in fields])


class Handler(BaseHTTPRequestHandler):
    """Maps HTTP onto ``HostState``. One instance per connection (keep-alive)."""

    protocol_version = "HTTP/1.1"  # keep-alive: one TCP connection per client
    wbufsize = -1  # buffered: headers and body leave in one segment on flush
    server: RollupHostServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        """Serve this connection's requests until it closes.

        A DApp makes two or three calls per input and waits for each answer, so the host's
        own cost per call is a large share of an input's time, and the stdlib reads a
        request line by line (request line, each header, the body). A call that already
        sits whole in the read buffer, in the shape of ``_DAPP_CALL``, is taken in one read
        instead; anything else (another route or method, a header line that is not plain,
        a body still on its way) goes through the stdlib's ``handle_one_request``, which
        reads the same buffer. Both end in ``_route``. With a DApp that does nothing but
        answer, on one core: 2,827 -> 3,229 inputs/s (medians of five interleaved runs).
        """
        self.close_connection = True
        while True:
            if not self._buffered_call():
                self.handle_one_request()
            # A stopped host answers every long-poll at once; keeping the connection would
            # let a client that polls in a loop spin on it: close it after the answer.
            if self.close_connection or self.server.host.closed:
                return

    def _buffered_call(self) -> bool:
        """Answer the next request if it is a whole DApp call in the buffer; False (with
        nothing read) otherwise."""
        data = self.rfile.peek()  # waits for the first bytes, as readline would
        head = _DAPP_CALL.match(data)
        if head is None:
            return False
        headers = PlainHeaders.decoded(head[2])
        length = headers.get("Content-Length", "")
        if (not (length.isascii() and length.isdigit()) or headers.get("Transfer-Encoding") is not None
                or headers.get("Expect") is not None):
            return False
        end = head.end() + int(length)
        if end > len(data):
            return False
        self.rfile.read(end)
        self.raw_requestline = data[:data.index(b"\n") + 1]
        self.requestline = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n")
        self.command, self.path, self.request_version = "POST", head[1].decode("ascii"), "HTTP/1.1"
        self.headers = headers
        self.close_connection = headers.get("Connection", "").lower() == "close"
        self.body = data[head.end():end]
        self._route(functools.partial(POST_ROUTES[self.path], self), self.path)
        self.wfile.flush()
        return True

    def parse_request(self) -> bool:
        """The stdlib's ``parse_request`` for a plain ``METHOD path HTTP/1.1`` line, with
        the headers read by ``read_headers``; any other request line goes to the stdlib."""
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        if len(words) != 3 or words[2] != "HTTP/1.1":
            return super().parse_request()
        self.requestline = requestline
        self.command, path, self.request_version = words
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path  # as the stdlib
        self.close_connection = False
        try:
            self.headers = read_headers(self.rfile, self.MessageClass)
        except http.client.LineTooLong as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", str(err))
            return False
        except http.client.HTTPException as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", str(err))
            return False
        if self.headers.get("Connection", "").lower() == "close":
            self.close_connection = True
        if self.headers.get("Expect", "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
        if self.server.host.config.verbose:
            super().log_message(format, *args)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        super().log_message(format, *args)  # errors are always shown

    def handle_expect_100(self) -> bool:
        """Send ``100 Continue`` now: with a buffered ``wfile`` it would otherwise wait
        in the buffer and clients such as curl would stall a second before the body."""
        ok = super().handle_expect_100()
        self.wfile.flush()
        return ok

    # -- plumbing

    def reply(self, status: int, body: Any = None, raw: bytes | None = None,
              headers: str = "") -> None:
        """Status line, headers and body in one write (no Server/Date: fewer bytes, no
        clock), formatted at once rather than header by header: this runs two or three
        times per input."""
        data = raw if raw is not None else (b"" if body is None else _JSON.encode(body).encode())
        if self.server.host.config.verbose:
            self.log_request(status, len(data))
        if self.request_version == "HTTP/0.9":  # no status line nor headers in 0.9
            self.wfile.write(data)
            return
        kind = "Content-Type: application/json\r\n" if data else ""
        head = (f"{_STATUS_LINES.get(status) or f'HTTP/1.1 {status} '}\r\n{kind}{headers}"
                f"Content-Length: {len(data)}\r\n\r\n")
        self.wfile.flush()  # nothing is buffered here, but order must hold if it ever is
        self.connection.sendall(head.encode("latin-1") + data)

    def _read_body(self) -> bytes:
        """Read the whole body up front, even for requests we will refuse: bytes left
        unread would be parsed as the next request on this keep-alive connection."""
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            size = int(length)
        except ValueError:
            self.close_connection = True
            raise HostError("bad Content-Length") from None
        return self.rfile.read(size)

    def json_body(self) -> dict[str, Any]:
        """The request's body as a JSON object (an empty body reads as ``{}``)."""
        raw = self.body
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise HostError("body is not valid JSON") from None
        if not isinstance(body, dict):
            raise HostError("body must be a JSON object")
        return body

    def _dispatch(self, routes: dict[str, Route]) -> None:
        path = self.path
        if "?" in path or "#" in path:
            path = urlsplit(path).path
        self._route(lambda: self._find_route(routes, path), path)

    def _find_route(self, routes: dict[str, Route], path: str) -> None:
        self.body = self._read_body()
        if path.startswith("/inspect/") and self.command == "POST":
            node_inspect(self, path[len("/inspect/"):])
            return
        if path == "/inspect" or path.startswith("/inspect/"):
            inspect_route(self)
            return
        handler = routes.get(path)
        if handler is None:
            web = self.server.web  # the page's routes (rollup_host/web.py), if attached
            if web is not None and (web.post(self, path, self.body, CORS_HEADERS)
                                    if self.command == "POST" else web.get(self, path)):
                return
            raise HostError(f"no route {self.command} {path}", status=404)
        handler(self)

    def _route(self, run: Callable[[], None], path: str) -> None:
        """Run a route and answer any error it raises."""
        try:
            run()
        except InvalidField as exc:
            self.reply(400, {"error": str(exc)})
        except HostError as exc:
            cors = CORS_HEADERS if path.startswith(("/rpc", "/inspect/", "/anvil")) else ""
            self.reply(exc.status, {"error": str(exc)}, headers=cors)
        except ConnectionError:  # the peer went away (e.g. a killed DApp mid long-poll)
            self.close_connection = True
        except Exception as exc:  # a host bug must not kill the connection silently
            self.log_error("internal error on %s %s: %r", self.command, path, exc)
            try:
                self.reply(500, {"error": f"internal error: {exc!r}"})
            except ConnectionError:
                self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802 (stdlib naming)
        self._dispatch(POST_ROUTES)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch(GET_ROUTES)

    def do_OPTIONS(self) -> None:  # noqa: N802
        """CORS preflight of a browser frontend: allowed for the node API (/rpc and
        /inspect/<app>) and the L1 proxy (/anvil) only, so a web page cannot send JSON to /dev/* or the DApp's routes."""
        self.body = self._read_body()
        path = urlsplit(self.path).path
        self.reply(204, headers=CORS_HEADERS if path in ("/rpc", "/anvil") or path.startswith("/inspect/")
                   else "")

    @property
    def host(self) -> HostState:
        return self.server.host

    def peer_alive(self) -> bool:
        """Peek at the socket without blocking: EOF or an error means the DApp left."""
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True  # nothing to read: connection open, peer waiting
        except OSError:
            return False


_STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}" for status in HTTPStatus}
