"""The catalog cache: the platform's catalog, price and stock updates kept in SQLite for offline lookups.

Updates are applied per item by version, so a late, repeated or reordered update never rolls an item back.
A removed item is kept as a tombstone (with its version) so an older update cannot bring it back; at the same
version a removal wins over an upsert, whichever arrives first. Availability beyond the store follows its own
as-of rule (store/availability.py).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge_agent.contract.catalog import CatalogItem, CatalogUpdate
from edge_agent.store import availability
from edge_agent.store.db import transaction

CATALOG_VERSION_KEY = "catalog_version"


@dataclass(frozen=True, slots=True)
class CachedItem:
    gtin14: str
    name: str
    style: str | None
    size: str | None
    colour: str | None
    price_minor: int | None
    currency: str | None
    price_as_of: float | None
    stock: int | None
    stock_as_of: float | None
    related: tuple[str, ...]


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def apply_update(conn: sqlite3.Connection, update: CatalogUpdate) -> int:
    """One transaction; returns how many items changed (0 for a duplicate or stale update)."""
    changed = 0
    with transaction(conn):
        for item in update.items:
            changed += _upsert(conn, item)
            if item.availability is not None:
                changed += availability.merge(conn, item.gtin14, item.availability)
        for gtin14 in update.removed:
            cur = conn.execute(
                "INSERT INTO catalog_items (gtin14, version, deleted) VALUES (?, ?, 1) "
                "ON CONFLICT (gtin14) DO UPDATE SET version = excluded.version, deleted = 1 "
                "WHERE excluded.version > catalog_items.version "
                "OR (excluded.version = catalog_items.version AND catalog_items.deleted = 0)",
                (gtin14, update.version),
            )
            changed += cur.rowcount
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (CATALOG_VERSION_KEY,)).fetchone()
        if row is None or int(row[0]) < update.version:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (CATALOG_VERSION_KEY, str(update.version)))
    return changed


def _upsert(conn: sqlite3.Connection, item: CatalogItem) -> int:
    cur = conn.execute(
        """INSERT INTO catalog_items (gtin14, version, deleted, name, style, size, colour, price_minor, currency,
                                      price_as_of, stock, stock_as_of, related)
           VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (gtin14) DO UPDATE SET
             version = excluded.version, deleted = 0, name = excluded.name, style = excluded.style,
             size = excluded.size, colour = excluded.colour, price_minor = excluded.price_minor,
             currency = excluded.currency, price_as_of = excluded.price_as_of, stock = excluded.stock,
             stock_as_of = excluded.stock_as_of, related = excluded.related
           WHERE excluded.version > catalog_items.version""",
        (
            item.gtin14,
            item.version,
            item.name,
            item.style,
            item.size,
            item.colour,
            item.price_minor,
            item.currency,
            _ts(item.price_as_of),
            item.stock,
            _ts(item.stock_as_of),
            json.dumps(item.related),
        ),
    )
    return cur.rowcount


def catalog_version(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (CATALOG_VERSION_KEY,)).fetchone()
    return int(row[0]) if row else None


_COLUMNS = "gtin14, name, style, size, colour, price_minor, currency, price_as_of, stock, stock_as_of, related"


def _item(row: tuple[Any, ...]) -> CachedItem:
    gtin14, name, style, size, colour, price_minor, currency, price_as_of, stock, stock_as_of, related = row
    return CachedItem(
        gtin14,
        name,
        style,
        size,
        colour,
        price_minor,
        currency,
        price_as_of,
        stock,
        stock_as_of,
        tuple(json.loads(related)),
    )


def get_item(conn: sqlite3.Connection, gtin14: str) -> CachedItem | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM catalog_items WHERE gtin14 = ? AND deleted = 0", (gtin14,)).fetchone()
    return None if row is None else _item(row)


def style_variants(conn: sqlite3.Connection, style: str) -> list[CachedItem]:
    """Every size and colour of a style, for "another size" at the mirror and related lookups."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM catalog_items WHERE style = ? AND deleted = 0 ORDER BY colour, size, gtin14",
        (style,),
    )
    return [_item(r) for r in rows]
