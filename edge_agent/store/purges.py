"""When each ended basket may be purged from the device: one row per cart, read in due order.

A table rather than one JSON value in meta: a kiosk offline for hours ends many sessions whose baskets cannot be
purged until the platform confirms them, and rewriting the whole schedule at every session's end grew with that
backlog (a write and a parse per end, both O(carts)). Here scheduling writes its own rows and a heartbeat reads
only the few that are due. A cart that could not be purged yet (ops still unconfirmed) is marked tried and
goes behind every untried one, in normal and early passes alike, keeping its own due time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping


def schedule(conn: sqlite3.Connection, due: Mapping[str, float]) -> None:
    """In the caller's transaction. A cart scheduled again takes the new time: the latest session's retention (the
    shopper's consent as of then) decides."""
    conn.executemany("INSERT OR REPLACE INTO purge_schedule (cart_id, due_at) VALUES (?, ?)", due.items())


def due(conn: sqlite3.Connection, now: float | None, limit: int, *, skip: str) -> list[str]:
    """Up to ``limit`` carts due by ``now`` (all scheduled ones when None), ``skip`` left out: the least recently
    tried first (never tried: 0), then the oldest due."""
    if now is None:
        rows = conn.execute(
            "SELECT cart_id FROM purge_schedule WHERE cart_id != ? ORDER BY tried_at, due_at LIMIT ?", (skip, limit)
        )
    else:
        rows = conn.execute(
            """SELECT cart_id FROM purge_schedule WHERE due_at <= ? AND cart_id != ?
               ORDER BY tried_at, due_at LIMIT ?""",
            (now, skip, limit),
        )
    return [str(r[0]) for r in rows]


def postpone(conn: sqlite3.Connection, carts: list[str], now: float) -> None:
    """Carts tried and kept (ops unconfirmed) go behind the untried ones, so they cannot starve the rest; their due
    time stays, so an early pass never shortens a basket's retention."""
    conn.executemany("UPDATE purge_schedule SET tried_at = ? WHERE cart_id = ?", [(now, c) for c in carts])
