"""Forward migrations, frozen: each module holds the code that wrote its version and
imports nothing live, so later changes to the engine never change how an old database
is brought forward. ``MIGRATIONS[v]`` takes a database from version ``v`` to ``v + 1``.

A fresh database is not built by replaying these: :mod:`streamable_token.schema` writes
the current schema directly (tests/test_schema.py proves both give the same database).
Versions 1 and 2 recorded themselves in ``PRAGMA user_version``; from 3 on the version is
in the engine's own ``st_version`` table.
"""
from __future__ import annotations

import sqlite3
from typing import Callable

from streamable_token.migrations import (
    m1_initial,
    m2_summaries,
    m3_prefixed,
    m4_allowances,
    m5_ledger_state,
    m6_two_limbs,
)

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    m1_initial.migrate,
    m2_summaries.migrate,
    m3_prefixed.migrate,
    m4_allowances.migrate,
    m5_ledger_state.migrate,
    m6_two_limbs.migrate,
]
LEGACY_VERSIONS = (1, 2)
"""Versions whose number is in ``PRAGMA user_version`` (the tables had no prefix)."""
