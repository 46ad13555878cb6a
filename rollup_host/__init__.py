"""Local Cartesi rollup host: the rollup HTTP API for ``dapp.py`` without Docker or a chain.

* ``server``: the HTTP server (``make_server``; ``start_in_thread`` runs one on an ephemeral
  port for tests and notebooks), built of:
  ``state`` (``HostState``: queue, in-flight input, outputs, blocks), ``model``
  (``HostConfig``, ``HostRequest``, ``HostError``), ``attempts`` (which delivery a call
  answers: a late one gets 409), ``chain_file`` (the chain kept across restarts),
  ``handler`` (reading requests, writing answers) and ``routes`` (what each route does).
* ``client``: ``HostClient``, the developer-side client (advance, deposit, inspect, mine).
* ``codec``: hex, addresses, ERC-20 portal payloads, transfer-voucher decoding.
* ``child``: ``stop``, how a ``dapp.py`` started beside the host is stopped.
* ``rpc``: ``NodeApi``, the Rollups node v2 JSON-RPC (``POST /rpc``) over the host's state.
* ``deployment``: host options from a deployment JSON (``serve --deployment``).
* ``web``: the web page's routes (``serve --web``): static files, ``/deployment.json``,
  ``POST /anvil`` (a same-origin proxy to the L1 node).
* ``amounts``: human amounts at the command line (``--decimals``), exact both ways.
* ``cli``: what every command line of the repository shares (help, a closed pipe).
* ``python -m rollup_host``: ``serve``, ``up``, ``deposit``, ``send``, ``inspect``,
  ``outputs``, ``mine``, ``block``.
"""

from .client import HostClient, HostRequestError
from .codec import InvalidField, erc20_deposit_payload
from .model import HostConfig
from .server import RollupHostServer, make_server, start_in_thread
from .state import HostState

__all__ = [
    "HostClient",
    "HostConfig",
    "HostRequestError",
    "HostState",
    "InvalidField",
    "RollupHostServer",
    "erc20_deposit_payload",
    "make_server",
    "start_in_thread",
]
