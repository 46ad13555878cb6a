"""The DApp's own database concerns (not part of the installable engine): where
``make run`` keeps its file (``db/dapp.sqlite``) and the WAL checkpointer thread
(:mod:`db.checkpoint`). The engine's tables, schema and migrations live in the
``streamable_token`` package; ``connect`` is re-exported here for the DApp's callers.
"""
from streamable_token.schema import SCHEMA_VERSION, connect, migrate

__all__ = ["SCHEMA_VERSION", "connect", "migrate"]
