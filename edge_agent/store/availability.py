"""Availability beyond this store (endless aisle): the newest count per source, whatever order updates come in.

The rule is a join, per (item, source): the count with the later as-of time wins, and at equal times the larger
figure, so reordered, repeated or stale updates converge to the same availability everywhere and an older count
never replaces a newer one. It deliberately does not follow the item's version: a newer item version may carry an
older count (another feed was slower), and keeping it would make the result depend on arrival order
(tests/unit/test_availability.py finds that case).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Final

from edge_agent.contract.aisle import Availability, StockCount, StoreStock

ONLINE: Final = ""
"""The ``store`` of the online source (no store id is empty)."""


def merge(conn: sqlite3.Connection, gtin14: str, availability: Availability) -> int:
    """In the caller's transaction; how many sources moved forward."""
    rows = [(ONLINE, availability.online)] if availability.online is not None else []
    rows += [(s.store, s) for s in availability.stores]
    changed = 0
    for store, count in rows:
        if count is None:
            continue
        cur = conn.execute(
            "INSERT INTO catalog_availability VALUES (?, ?, ?, ?) ON CONFLICT (gtin14, store) DO UPDATE SET "
            "qty = excluded.qty, as_of = excluded.as_of "
            "WHERE (excluded.as_of, excluded.qty) > (catalog_availability.as_of, catalog_availability.qty)",
            (gtin14, store, count.qty, count.as_of.timestamp()),
        )
        changed += cur.rowcount
    return changed


def availability_of(conn: sqlite3.Connection, gtin14: str) -> Availability | None:
    rows = conn.execute(
        "SELECT store, qty, as_of FROM catalog_availability WHERE gtin14 = ? ORDER BY store", (gtin14,)
    ).fetchall()
    if not rows:
        return None
    online = next((StockCount(qty=q, as_of=_when(t)) for s, q, t in rows if s == ONLINE), None)
    stores = [StoreStock(store=s, qty=q, as_of=_when(t)) for s, q, t in rows if s != ONLINE]
    return Availability(online=online, stores=stores)


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
