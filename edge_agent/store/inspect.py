"""Read-only looks into a database another process is writing (WAL lets readers and one writer coexist).

Used by `edge-agent status`, the demo and the tests; none of them may ever write to the agent's file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from edge_agent.domain.cart import quantities
from edge_agent.store import carts
from edge_agent.store.db import connect
from edge_agent.store.device import OutboxStats, read_outbox_stats


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(connect(path, read_only=True)) as conn:
        yield conn


def basket_quantities(path: Path, cart_id: str) -> dict[str, int]:
    """sku -> quantity of one cart, as its live entries say (works on device and platform databases)."""
    with read_only(path) as conn:
        return quantities(carts.live_entries(conn, cart_id))


def outbox_stats(path: Path) -> OutboxStats:
    with read_only(path) as conn:
        return read_outbox_stats(conn)


def ops_created(path: Path) -> int:
    """How many ops this device database has ever allocated (the outbox's AUTOINCREMENT high-water mark)."""
    with read_only(path) as conn:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return int(row[0]) if row else 0
