"""The device store's catalog cache, purge schedule, metadata and diagnostics: the small ports beside the baskets
and the outbox, mixed into DeviceStore (store/device.py), which owns the connection and the transactions."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager

from edge_agent.contract.aisle import Availability
from edge_agent.contract.catalog import CatalogUpdate, LookupResult
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.store import availability, catalog, purges
from edge_agent.store.faults import StorageFaults, StorageFull, tolerates_full
from edge_agent.store.lookup import lookup

__all__ = ["REJECTS_KEPT", "MetaPort"]

REJECTS_KEPT = 1000
"""The rejects table is a diagnostic ring, not an archive: keep the newest 1000."""


class MetaPort:
    """Mixed into DeviceStore."""

    conn: sqlite3.Connection
    faults: StorageFaults
    _now: Callable[[], float]
    _session_extra: int

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _bookkeeping(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def apply_catalog(self, update: CatalogUpdate) -> int:
        """The platform's catalog, price and stock update, kept for offline lookups (store/catalog.py)."""
        with self.faults.guard(self.conn, contextlib.nullcontext(self.conn)):
            return catalog.apply_update(self.conn, update)

    def catalog_version(self) -> int | None:
        return catalog.catalog_version(self.conn)

    def lookup(self, key: ProductKey, *, online: bool) -> LookupResult:
        """What a screen shows for a code: price, stock, other sizes, each with its as-of time."""
        return lookup(self.conn, key, online=online)

    def catalog_item(self, gtin14: str) -> catalog.CachedItem | None:
        return catalog.get_item(self.conn, gtin14)

    def availability(self, gtin14: str) -> Availability | None:
        """Beyond this store: online and nearby stores, newest count per source (store/availability.py)."""
        return availability.availability_of(self.conn, gtin14)

    def schedule_purges(self, due: Mapping[str, float]) -> None:
        """Durable: ended baskets to purge at these times (a cart scheduled again takes the new one)."""
        with self._write():
            purges.schedule(self.conn, due)

    def purges_due(self, now: float | None, limit: int, *, skip: str = "") -> list[str]:
        """Scheduled carts due by ``now`` (every one when None), oldest first."""
        return purges.due(self.conn, now, limit, skip=skip)

    @tolerates_full(None)
    def postpone_purges(self, carts: list[str], now: float) -> None:
        """Carts that could not be purged yet (unconfirmed ops) wait behind the others."""
        with self._bookkeeping():
            purges.postpone(self.conn, carts, now)

    # --- metadata and diagnostics ------------------------------------------------------------------------
    def bump_mqtt_session(self) -> int:
        """Sparkplug-style session number: consumers keep the highest, so a late will cannot win."""
        try:
            with self._write():
                self.conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'mqtt_session'")
                row = self.conn.execute("SELECT value FROM meta WHERE key = 'mqtt_session'").fetchone()
        except StorageFull:  # connect anyway on a full disk: this number only has to grow while the agent runs
            self._session_extra += 1
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'mqtt_session'").fetchone()
            return int(row[0]) + self._session_extra
        return int(row[0]) + self._session_extra

    def meta(self, key: str) -> str | None:
        """A meta value; an empty string (a workflow's way to forget a key) reads as absent."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row and row[0] else None

    def meta_with_prefix(self, prefix: str) -> dict[str, str]:
        """Every non-empty meta value whose key starts with ``prefix`` (the prefix stripped from the keys)."""
        rows = self.conn.execute("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))
        return {str(k)[len(prefix) :]: str(v) for k, v in rows if v}

    def set_meta(self, values: dict[str, str], *, durable: bool = True) -> None:
        try:
            with self._write() if durable else self._bookkeeping():
                self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())
        except StorageFull:
            if durable:
                raise  # what the status writes may wait for room; what a workflow keeps may not vanish silently

    @tolerates_full(None)
    def record_reject(self, source: str, reason: str, detail: str) -> None:
        with self._bookkeeping():
            cur = self.conn.execute(
                "INSERT INTO rejects (at, source, reason, detail) VALUES (?, ?, ?, ?)",
                (self._now(), source, reason, detail[:500]),
            )
            self.conn.execute("DELETE FROM rejects WHERE id <= ?", ((cur.lastrowid or 0) - REJECTS_KEPT,))
