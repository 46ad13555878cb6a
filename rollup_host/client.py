"""HTTP client for the local host's developer side.

Tests, the notebook, the benchmarks and the CLI all drive the host through
``HostClient`` so there is one place that knows the routes and body shapes. It keeps
one ``requests.Session`` (one keep-alive TCP connection) because a fresh connection per
call costs more than the call itself on loopback.
"""

from __future__ import annotations

import os
from typing import Any

import requests

from .codec import normalize_address, to_hex, to_payload_bytes

__all__ = ["DEFAULT_URL", "HostClient", "HostRequestError"]

DEFAULT_URL = "http://127.0.0.1:5004"


class HostRequestError(RuntimeError):
    """The host answered with a non-2xx status (bad body, timeout, unknown route)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.message = message


class HostClient:
    """Developer-side client: queue inputs and inspects, read blocks and outputs.

    ``url`` defaults to ``$ROLLUP_HOST_URL`` or ``http://127.0.0.1:5004``. ``timeout``
    is the HTTP timeout in seconds; waiting calls ask the server to wait slightly less
    so the server's 504 arrives before the client gives up.
    """

    def __init__(self, url: str | None = None, timeout: float = 60.0) -> None:
        self.url = (url or os.environ.get("ROLLUP_HOST_URL") or DEFAULT_URL).rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HostClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- plumbing

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None) -> Any:
        response = self.session.request(method, self.url + path, json=body, params=params,
                                        timeout=self.timeout)
        if not 200 <= response.status_code < 300:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise HostRequestError(response.status_code, message)
        return response.json() if response.content else None

    def _waiting(self, body: dict[str, Any], wait: bool) -> dict[str, Any]:
        body["wait"] = wait
        if wait:
            body["timeout"] = max(self.timeout - 1.0, 0.1)
        return body

    # ------------------------------------------------------------------ inputs

    def advance(self, sender: str, payload: Any, block: int | None = None,
                wait: bool = True) -> dict[str, Any]:
        """Send an advance input from ``sender`` and (by default) wait for its outcome.

        ``payload``: bytes, ``0x``-hex, text, or a dict/list sent as compact JSON.
        Returns ``{"input_index", "status", "block_number", "notices", "vouchers",
        "reports", ...}``; ``status`` is ``accepted``, ``rejected`` or ``exception``
        (``queued`` when ``wait=False``).
        """
        body: dict[str, Any] = {"sender": normalize_address(sender, "sender"),
                                "payload": to_hex(to_payload_bytes(payload))}
        if block is not None:
            body["block"] = block
        return self._call("POST", "/dev/advance", self._waiting(body, wait))

    def advance_raw(self, metadata: dict[str, Any], payload: Any,
                    wait: bool = True) -> dict[str, Any]:
        """Send an input with verbatim metadata (the L1 bridge replaying chain inputs)."""
        body = {"metadata": metadata, "payload": to_hex(to_payload_bytes(payload))}
        return self._call("POST", "/dev/advance", self._waiting(body, wait))

    def deposit(self, token: str, sender: str, amount: int | str,
                exec_layer_data: bytes | str = b"", block: int | None = None,
                wait: bool = True) -> dict[str, Any]:
        """Deposit ``amount`` of ERC-20 ``token`` from ``sender`` through the portal.

        ``exec_layer_data``: bytes, ``0x``-hex or text; appended to the portal payload.
        Returns the same shape as ``advance``.
        """
        body: dict[str, Any] = {
            "token": normalize_address(token, "token"),
            "sender": normalize_address(sender, "sender"),
            "amount": str(int(amount)),
            "exec_layer_data": to_hex(to_payload_bytes(exec_layer_data)),
        }
        if block is not None:
            body["block"] = block
        return self._call("POST", "/dev/deposit", self._waiting(body, wait))

    def inspect(self, payload: Any) -> dict[str, Any]:
        """Inspect the DApp's state: ``payload`` is a route string, bytes, hex or dict.

        Returns ``{"status", "reports": [{"payload"}], "processed_input_count"}``.
        """
        body = {"payload": to_hex(to_payload_bytes(payload))}
        return self._call("POST", "/dev/inspect", self._waiting(body, True))

    # ------------------------------------------------------------------- chain

    def mine(self, blocks: int = 1) -> int:
        """Advance the local block number by ``blocks``; return the new number."""
        return int(self._call("POST", "/dev/mine", {"blocks": blocks})["block_number"])

    def block(self) -> int:
        """The current local block number (the block the next advance will carry)."""
        return int(self._call("GET", "/dev/block")["block_number"])

    def outputs(self, from_: int = 0) -> list[dict[str, Any]]:
        """Finished inputs from index ``from_`` on, with metadata, status and outputs."""
        return self._call("GET", "/dev/outputs", params={"from": from_})

    def status(self) -> dict[str, Any]:
        """Host snapshot: block, queue length, input in flight, counters, config."""
        return self._call("GET", "/dev/status")
