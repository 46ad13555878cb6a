"""SQLite storage of the streaming engine: schema, migrations, and row load/store.

Only stores and loads: no stream math lives here. The caller owns the transaction.
"""
from streamable_token.schema import SCHEMA_VERSION, connect, migrate

__all__ = ["SCHEMA_VERSION", "connect", "migrate"]
