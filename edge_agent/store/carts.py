"""Cart state as tables: applying effects is INSERT OR IGNORE, i.e. set union, so it is idempotent.

Used by the device and by the platform simulator alike; callers own the transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from edge_agent.domain.cart import AttrWrite, Effects, Entry, Seal

_LIVE_SQL = """SELECT e.entry_id, e.cart_id, e.sku, e.qty, e.hlc, e.origin_device, e.serial FROM cart_entries e
               WHERE e.cart_id = ? AND NOT EXISTS (SELECT 1 FROM cart_tombstones t WHERE t.entry_id = e.entry_id)
               ORDER BY e.hlc, e.entry_id"""


EntryRow = tuple[str, str, str, int, int, str, str | None]
TombstoneRow = tuple[str, str]
AttrRow = tuple[str, str, str | None, int, str, str]


def effect_rows(effects: Iterable[Effects]) -> tuple[list[EntryRow], list[TombstoneRow], list[AttrRow]]:
    """Ops' effects as the rows of cart_entries, cart_tombstones and cart_attrs, in their column order: one
    flattening for every store that keeps carts (this device's SQLite, the platform's SQLite and PostgreSQL)."""
    entries: list[EntryRow] = []
    tombstones: list[TombstoneRow] = []
    attrs: list[AttrRow] = []
    for eff in effects:
        entries.extend(eff.entries)  # an Entry is a named tuple of cart_entries' columns, in their order
        tombstones.extend((t, eff.cart_id) for t in eff.tombstones)
        attrs.extend((eff.cart_id, a.key, a.value, a.hlc, a.device, a.op_id) for a in eff.attrs)
    return entries, tombstones, attrs


_INSERT_ENTRIES = """INSERT OR IGNORE INTO cart_entries (entry_id, cart_id, sku, qty, hlc, origin_device, serial)
                     VALUES (?, ?, ?, ?, ?, ?, ?)"""


def insert_entries(conn: sqlite3.Connection, entries: Iterable[EntryRow]) -> None:
    """Entries into cart_entries, a set union (an entry already there is left as it is)."""
    conn.executemany(_INSERT_ENTRIES, entries)


def apply_effects(conn: sqlite3.Connection, effects: Iterable[Effects]) -> None:
    entries, tombstones, attrs = effect_rows(effects)
    if entries:
        insert_entries(conn, entries)
    if tombstones:
        conn.executemany("INSERT OR IGNORE INTO cart_tombstones VALUES (?, ?)", tombstones)
    if attrs:
        # LWW by (hlc, device, op_id), as AttrWrite.beats: one winner on every replica, whatever the order.
        conn.executemany(
            """INSERT INTO cart_attrs VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (cart_id, key) DO UPDATE
               SET value = excluded.value, hlc = excluded.hlc, device = excluded.device, op_id = excluded.op_id
               WHERE (excluded.hlc, excluded.device, excluded.op_id)
                     > (cart_attrs.hlc, cart_attrs.device, cart_attrs.op_id)""",
            attrs,
        )


def collect_confirmed(conn: sqlite3.Connection, cart_id: str, confirmed: Iterable[str]) -> int:
    """Drop the removals a platform snapshot confirmed, with their entries (CartReplica.collect); how many rows.

    Run in the transaction that merges that snapshot, so a confirmed tombstone is never even written: the
    device keeps only its own removals the platform has not applied yet (docs/cart-rule.md, Collection)."""
    ids = json.dumps(list(confirmed))
    if ids == "[]":
        return 0
    dropped = 0
    for table in ("cart_entries", "cart_tombstones"):
        cur = conn.execute(
            f"DELETE FROM {table} WHERE cart_id = ? AND entry_id IN (SELECT value FROM json_each(?))", (cart_id, ids)
        )
        dropped += cur.rowcount
    return dropped


def live_entries(conn: sqlite3.Connection, cart_id: str) -> list[Entry]:
    return [Entry(*row) for row in conn.execute(_LIVE_SQL, (cart_id,))]


_QUANTITIES_SQL = """SELECT e.sku, sum(CASE WHEN e.serial IS NULL THEN e.qty ELSE 0 END) + count(DISTINCT e.serial)
               FROM cart_entries e
               WHERE e.cart_id = ? AND NOT EXISTS (SELECT 1 FROM cart_tombstones t WHERE t.entry_id = e.entry_id)
               GROUP BY e.sku ORDER BY min(printf('%020d %s', e.hlc, e.entry_id))"""


def quantities(conn: sqlite3.Connection, cart_id: str) -> dict[str, int]:
    """``domain.cart.quantities`` of the live entries, added up by SQLite (unserialised entries' qty, plus one per
    distinct serial), in the order of each SKU's first live entry by (hlc, entry_id) as there: the kiosk's view asks
    after every burst of scans, and a basket's dozens of entries need not become Python objects for a few totals.
    tests/unit/test_store.py checks it against the domain's rule."""
    return {str(sku): int(qty) for sku, qty in conn.execute(_QUANTITIES_SQL, (cart_id,))}


def all_entries(conn: sqlite3.Connection, cart_id: str) -> list[Entry]:
    rows = conn.execute(
        "SELECT entry_id, cart_id, sku, qty, hlc, origin_device, serial FROM cart_entries WHERE cart_id = ?",
        (cart_id,),
    )
    return [Entry(*row) for row in rows]


def tombstones(conn: sqlite3.Connection, cart_id: str) -> list[str]:
    rows = conn.execute("SELECT entry_id FROM cart_tombstones WHERE cart_id = ? ORDER BY entry_id", (cart_id,))
    return [r[0] for r in rows]


def attrs(conn: sqlite3.Connection, cart_id: str) -> list[AttrWrite]:
    rows = conn.execute(
        "SELECT key, value, hlc, device, op_id FROM cart_attrs WHERE cart_id = ? ORDER BY key", (cart_id,)
    )
    return [AttrWrite(*row) for row in rows]


def seal_of(conn: sqlite3.Connection, cart_id: str) -> Seal | None:
    row = conn.execute("SELECT order_id, entry_ids, hlc FROM cart_seals WHERE cart_id = ?", (cart_id,)).fetchone()
    return None if row is None else Seal(row[0], tuple(json.loads(row[1])), row[2])


def record_seal(conn: sqlite3.Connection, cart_id: str, seal: Seal) -> bool:
    """First seal wins (the platform decides once); returns whether this one was recorded."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO cart_seals VALUES (?, ?, ?, ?)",
        (cart_id, seal.order_id, json.dumps(list(seal.entry_ids)), seal.hlc),
    )
    return cur.rowcount > 0
