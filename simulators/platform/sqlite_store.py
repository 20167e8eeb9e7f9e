"""The SQLite adapter of the platform's storage port: the central simulator's one database (one writer).

It delegates to the SQL the device shares (edge_agent/store/carts.py) and to cart_authority's tables; locks are
no-ops, since the simulator applies one batch at a time under ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from edge_agent.contract.cart import EpochWatermark
from edge_agent.domain.cart import AttrWrite, Effects, Entry, Seal
from edge_agent.domain.ops import CartOp
from edge_agent.store import carts
from simulators import cart_authority as authority
from simulators.platform.const import ERASED_CART_TABLES, MAX_EPOCHS_PER_WATERMARK, MAX_GAPS_PER_EPOCH
from simulators.platform.port import Held


class SqliteStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def lock_device(self, device: str, epoch: str) -> None:
        return None

    def lock_cart(self, cart_id: str) -> None:
        return None

    def record_applied(self, ops: list[CartOp], at: float) -> set[int]:
        new = set()
        for op in ops:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO applied_ops VALUES (?, ?, ?, ?, ?)",
                (op.device, op.epoch, op.seq, op.cart_id, at),
            )
            if cur.rowcount:
                new.add(op.seq)
        return new

    def bind_home(self, device: str, tenant: str, store: str) -> tuple[str, str]:
        return authority.bind_home(self.conn, device, tenant, store)

    def home_of(self, device: str) -> tuple[str, str] | None:
        return authority.home_of(self.conn, device)

    def owner_of(self, cart_id: str) -> str | None:
        return authority.owner_of(self.conn, cart_id)

    def adopt(self, cart_id: str, device: str) -> None:
        authority.adopt(self.conn, cart_id, device)

    def record_grant(self, device: str, cart_id: str) -> None:
        authority.record_grant(self.conn, device, cart_id)

    def has_grant(self, device: str, cart_id: str) -> bool:
        return authority.has_grant(self.conn, device, cart_id)

    def record_issued(self, cart_id: str, fingerprint: str) -> None:
        authority.record_issued(self.conn, cart_id, fingerprint)

    def issued_fingerprints(self, cart_id: str) -> list[str]:
        return authority.issued_fingerprints(self.conn, cart_id)

    def forget_issued(self, cart_id: str) -> None:
        authority.forget_issued(self.conn, cart_id)

    def erased_among(self, cart_ids: Iterable[str]) -> set[str]:
        ids = list(cart_ids)
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(f"SELECT cart_id FROM erased_carts WHERE cart_id IN ({marks})", ids) if ids else []
        return {str(r[0]) for r in rows}

    def record_erased(self, cart_id: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO erased_carts VALUES (?)", (cart_id,))

    def erase_shopper(self, cart_id: str) -> None:
        """Right to be forgotten, in the caller's transaction (as PgStore.erase_shopper; the simulator's lock
        serialises writers): marked erased, the cart's rows and held ops deleted, its fingerprints forgotten."""
        self.record_erased(cart_id)
        for table in ERASED_CART_TABLES:
            self.conn.execute(f"DELETE FROM {table} WHERE cart_id = ?", (cart_id,))
        self.forget_issued(cart_id)

    def hold(self, tenant: str, store: str, held: Held) -> None:
        authority.hold(self.conn, tenant, store, held)

    def release(self, device: str, cart_id: str) -> list[CartOp]:
        return authority.release(self.conn, device, cart_id)

    def apply_effects(self, effects: Iterable[Effects]) -> None:
        carts.apply_effects(self.conn, effects)

    def live_entries(self, cart_id: str) -> list[Entry]:
        return carts.live_entries(self.conn, cart_id)

    def tombstones(self, cart_id: str) -> list[str]:
        return carts.tombstones(self.conn, cart_id)

    def attrs(self, cart_id: str) -> list[AttrWrite]:
        return carts.attrs(self.conn, cart_id)

    def seal_of(self, cart_id: str) -> Seal | None:
        return carts.seal_of(self.conn, cart_id)

    def record_seal(self, cart_id: str, seal: Seal) -> bool:
        return carts.record_seal(self.conn, cart_id, seal)

    def bump_version(self, cart_id: str, tenant: str, store: str) -> None:
        self.conn.execute(
            "INSERT INTO cart_versions VALUES (?, 1, ?, ?) ON CONFLICT (cart_id) DO UPDATE SET version = version + 1",
            (cart_id, tenant, store),
        )

    def cart_version(self, cart_id: str) -> int | None:
        row = self.conn.execute("SELECT version FROM cart_versions WHERE cart_id = ?", (cart_id,)).fetchone()
        return None if row is None else int(row[0])

    def cart_home(self, cart_id: str) -> tuple[str, str] | None:
        row = self.conn.execute("SELECT tenant, store FROM cart_versions WHERE cart_id = ?", (cart_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    def advance_watermark(self, device: str, epoch: str) -> None:
        conn = self.conn
        row = conn.execute(
            "SELECT applied_upto FROM watermarks WHERE device = ? AND epoch = ?", (device, epoch)
        ).fetchone()
        upto = row[0] if row else 0
        while conn.execute(
            "SELECT 1 FROM applied_ops WHERE device = ? AND epoch = ? AND seq = ?", (device, epoch, upto + 1)
        ).fetchone():
            upto += 1
        conn.execute(
            "INSERT INTO watermarks VALUES (?, ?, ?) "
            "ON CONFLICT (device, epoch) DO UPDATE SET applied_upto = excluded.applied_upto",
            (device, epoch, upto),
        )

    def watermarks(self, device: str) -> list[EpochWatermark]:
        marks = []
        rows = self.conn.execute(
            "SELECT epoch, applied_upto FROM watermarks WHERE device = ? LIMIT ?", (device, MAX_EPOCHS_PER_WATERMARK)
        ).fetchall()
        for epoch, upto in rows:
            above = [
                r[0]
                for r in self.conn.execute(
                    "SELECT seq FROM applied_ops WHERE device = ? AND epoch = ? AND seq > ? ORDER BY seq LIMIT ?",
                    (device, epoch, upto, MAX_GAPS_PER_EPOCH),
                )
            ]
            marks.append(EpochWatermark(epoch=epoch, applied_upto=upto, applied_above=above))
        return marks
