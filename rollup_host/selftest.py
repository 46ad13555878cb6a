"""Latency self-test: ``python -m rollup_host.selftest [N]``.

Starts a host on an ephemeral port, plays a minimal DApp in a thread (finish, one
notice, finish) and times N advance inputs sent through ``HostClient``, plus N bare
HTTP round trips (``GET /dev/block``). Prints the figures; it asserts nothing, because
timing depends on the machine. Use it to check that TCP_NODELAY and buffered writes
still keep a round trip well under a millisecond on loopback.
"""

from __future__ import annotations

import argparse
import threading
import time

import requests

from . import cli
from .client import HostClient
from .server import start_in_thread

SENDER = "0x" + "aa" * 20


def echo_dapp(url: str, stop: threading.Event) -> None:
    """The smallest DApp: echo each advance payload as a notice, accept everything."""
    session = requests.Session()
    while not stop.is_set():
        response = session.post(url + "/finish", json={"status": "accept"})
        if response.status_code != 200:
            continue
        request = response.json()
        if request["request_type"] == "advance_state":
            session.post(url + "/notice", json={"payload": request["data"]["payload"]})


def measure(n: int = 200) -> dict[str, float]:
    """Run the benchmark; return mean milliseconds per advance and per round trip."""
    server, url = start_in_thread(finish_timeout=0.2)
    stop = threading.Event()
    dapp = threading.Thread(target=echo_dapp, args=(url, stop), daemon=True)
    dapp.start()
    client = HostClient(url)
    try:
        client.advance(SENDER, b"warm-up")
        client.block()
        start = time.perf_counter()
        for i in range(n):
            result = client.advance(SENDER, i.to_bytes(4, "big"))
            if result["status"] != "accepted":
                raise RuntimeError(f"input {i} not accepted: {result}")
        advance_ms = (time.perf_counter() - start) * 1000 / n
        start = time.perf_counter()
        for _ in range(n):
            client.block()
        round_trip_ms = (time.perf_counter() - start) * 1000 / n
    finally:
        stop.set()
        client.close()
        server.stop()
        dapp.join(timeout=2)
    return {"advance_ms": advance_ms, "round_trip_ms": round_trip_ms}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rollup_host.selftest", description=cli.summary(__doc__),
                                     formatter_class=cli.HelpFormatter)
    parser.add_argument("n", type=int, nargs="?", default=200,
                        help="advance inputs and round trips to time (default 200)")
    n = parser.parse_args(argv).n
    figures = measure(n)
    print(f"{n} advance inputs: {figures['advance_ms']:.3f} ms each "
          f"(client->host->dapp: 4 HTTP round trips per input)")
    print(f"{n} HTTP round trips (GET /dev/block): {figures['round_trip_ms']:.3f} ms each")
    return 0


if __name__ == "__main__":
    cli.run(main)
