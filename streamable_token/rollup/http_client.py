"""The DApp's HTTP client for the rollup server: one persistent connection, stdlib only.

The DApp makes two or three calls per input, one after the other, so the client's own
cost per call is a large share of an input's time. ``requests`` spent about 0.8 ms per
call on loopback (sessions, adapters, urllib3); ``http.client`` about 0.2 ms, a good part
of it in the ``email`` header parser. Here a request is one pre-formatted write (headers
and body in one segment, so the server never waits for the body) and the answers the
rollup server gives (HTTP/1.1, plain header lines, ``Content-Length``) are read directly;
any other answer (chunked, no length, 1xx, HTTP/1.0, folded or repeated framing headers)
is handed to ``http.client.HTTPResponse`` with the bytes already read put back in front,
so it is read exactly as ``http.client`` would.

Behaves as the ``requests`` session did: keep-alive, TCP_NODELAY, no proxy look-ups, one
attempt per call (no silent retries), a connection the server closed while idle replaced
before use, a failed call's connection dropped so the next call starts clean. The header
fields of the last answer are kept (``Connection.answer_headers``) for a caller that needs
one (the local host's ``X-Rollup-Attempt``).
"""
from __future__ import annotations

import http.client
import io
import json
import re
import select
import socket
import ssl
import struct
from typing import Any, Optional
from urllib.parse import urlsplit

__all__ = ["Connection", "NoAnswer"]

_STATUS = re.compile(rb"HTTP/1\.1 ([0-9]{3})(?: [^\r\n]*)?\r\n")
_FIELD = re.compile(rb"([!-9;-~]+):[ \t]*([^\r\n]*?)[ \t]*\r\n")
_FRAMING = (b"content-length", b"transfer-encoding", b"connection")
_MAX_HEAD = 65536  # http.client's line limit; a longer head goes to http.client
_MAX_HEADERS = 100


class NoAnswer(Exception):
    """The server did not answer (connection refused or dropped, timeout, a reply that is
    not HTTP): whether it acted on the request is unknown."""


class Connection:
    """One persistent HTTP/1.1 connection to ``url``; ``post`` is the only call."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"rollup server URL must be http(s)://host[:port], got {url!r}")
        self._tls = parts.scheme == "https"
        self._address = (parts.hostname, parts.port or (443 if self._tls else 80))
        self._host = parts.netloc.rpartition("@")[2]
        self._prefix = parts.path.rstrip("/")
        self._sock: Optional[socket.socket] = None
        self._timeout: Optional[float] = None  # what _sock's sends and receives are bounded by
        self.answer_headers: dict[bytes, bytes] = {}  # the last answer's fields, names lower-case

    def post(self, path: str, body: Any, timeout: float,
             headers: Optional[dict[str, str]] = None) -> tuple[int, bytes]:
        """POST ``body`` as JSON; return the status and the whole response body.

        Raises NoAnswer when no complete HTTP answer came back within ``timeout`` seconds
        (per socket operation, as with ``requests``)."""
        request = self._request(path, json.dumps(body).encode(), headers)
        self.answer_headers = {}
        try:
            sock = self._ready(timeout)
            sock.sendall(request)
            status, content, will_close = read_response(sock, self.answer_headers)
        except (OSError, http.client.HTTPException, ValueError) as err:
            self.close()
            raise NoAnswer(f"{type(err).__name__}: {err}") from None
        if will_close:  # "Connection: close" or HTTP/1.0: the next call reconnects
            self.close()
        return status, content

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _request(self, path: str, data: bytes, headers: Optional[dict[str, str]]) -> bytes:
        head = (f"POST {self._prefix}{path} HTTP/1.1\r\nHost: {self._host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n")
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        return (head + "\r\n").encode("latin-1") + data

    def _ready(self, timeout: float) -> socket.socket:
        """The open socket, or a new one when there is none or the server has closed it
        since its last answer."""
        sock = self._sock
        if sock is not None and not self._tls and _readable(sock):
            self.close()  # EOF (or bytes nobody asked for) on an idle connection: start afresh
            sock = None
        if sock is None:
            sock = socket.create_connection(self._address, timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
            if self._tls:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self._address[0])
            self._sock, self._timeout = sock, None
        if timeout != self._timeout:
            _set_timeout(sock, timeout, kernel=not self._tls and timeout > 0)
            self._timeout = timeout
        return sock


def _set_timeout(sock: socket.socket, timeout: float, kernel: bool) -> None:
    """Bound each send and receive by ``timeout`` seconds. ``kernel``: as the kernel's
    SO_SNDTIMEO/SO_RCVTIMEO on a blocking socket, which fails a call that waits too long
    with EAGAIN (an OSError). A Python socket timeout does the same with a ``poll`` before
    every send and every receive, two more system calls per request."""
    if not kernel:
        sock.settimeout(timeout)
        return
    sock.settimeout(None)
    seconds = int(timeout)
    micros = max(int((timeout - seconds) * 1_000_000), 0 if seconds else 1)  # 0, 0 would never time out
    timeval = struct.pack("ll", seconds, micros)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


def _readable(sock: socket.socket) -> bool:
    """True when an idle keep-alive socket has something to read: EOF or stray bytes.
    (Not for TLS sockets, whose session tickets would look like stray bytes.)"""
    poller = select.poll()  # not select.select: no limit on the descriptor number
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def read_response(sock: socket.socket,
                  fields: Optional[dict[bytes, bytes]] = None) -> tuple[int, bytes, bool]:
    """Read one answer: (status, body, whether the server will close the connection).

    ``fields``, if given, receives the answer's header fields (names lower-case, the last
    line of a repeated name)."""
    data = b""
    while (end := data.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(65536) if len(data) <= _MAX_HEAD else b""
        if not chunk:
            return _by_http_client(data, sock, fields)
        data += chunk
    plain = _plain_head(data[:end + 2], fields)
    if plain is None:
        return _by_http_client(data, sock, fields)
    status, length, will_close = plain
    body = data[end + 4:]
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise http.client.IncompleteRead(body, length - len(body))
        body += chunk
    if len(body) > length:  # bytes past the answer: let http.client decide what they are
        return _by_http_client(data[:end + 4] + body, sock, fields)
    return status, body, will_close


def _plain_head(head: bytes, out: Optional[dict[bytes, bytes]] = None) -> Optional[tuple[int, int, bool]]:
    """(status, Content-Length, closing) for an HTTP/1.1 final answer with plain header
    lines and one decimal ``Content-Length``, its fields put in ``out``; None for
    anything else."""
    match = _STATUS.match(head)
    if match is None or head[9:10] == b"1":  # 1xx: interim answers, http.client skips them
        return None
    fields: dict[bytes, bytes] = {}
    pos = match.end()
    while pos < len(head):
        field = _FIELD.match(head, pos)
        if field is None or len(fields) >= _MAX_HEADERS:
            return None
        name = field[1].lower()
        if name in _FRAMING and name in fields:
            return None
        fields[name] = field[2]
        pos = field.end()
    length = fields.get(b"content-length", b"")
    if b"transfer-encoding" in fields or not length.isdigit():
        return None
    if out is not None:
        out.update(fields)
    return int(match[1]), int(length), b"close" in fields.get(b"connection", b"").lower()


class _Prefixed(io.RawIOBase):
    """A socket read as a file, with bytes already taken from it put back in front."""

    def __init__(self, head: bytes, sock: socket.socket) -> None:
        self._head, self._sock = memoryview(head), sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str) -> io.BufferedReader:  # what HTTPResponse asks its socket for
        return io.BufferedReader(self)


def _by_http_client(head: bytes, sock: socket.socket,
                    fields: Optional[dict[bytes, bytes]] = None) -> tuple[int, bytes, bool]:
    resp = http.client.HTTPResponse(_Prefixed(head, sock), method="POST")  # type: ignore[arg-type]
    resp.begin()
    if fields is not None:
        fields.update((name.lower().encode("latin-1"), value.encode("latin-1"))
                      for name, value in resp.getheaders())
    return resp.status, resp.read(), resp.will_close
