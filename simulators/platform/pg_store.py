"""The PostgreSQL adapter of the platform's storage port: one database shared by N workers (scale note §0.3).

Same tables and rules as the SQLite simulator's (edge_agent/store/schema.py), in PostgreSQL's dialect:
``INSERT ... ON CONFLICT DO NOTHING`` for the ``(device, epoch, seq)`` dedupe key and every set union, and
row locks (``SELECT ... FOR UPDATE``) where several workers may write at once:

- ``lock_device``: the (device, epoch) watermark row, so two batches of one device apply one after the other and
  each advance of the contiguous watermark sees the previous batch's ops (READ COMMITTED: every statement sees
  what committed before it began);
- ``lock_cart``: a per-cart row, so version bumps and the checkout seal of one cart follow commit order.

Deadlock-free by construction: a transaction takes one device lock, then its carts in sorted order.

``issued_credentials`` is PLATFORM_MIGRATIONS' 0008 (the EA2 fingerprints a merge grant must match), in ``SCHEMA``;
``erased_carts`` is 0009 (:meth:`PgStore.erase_shopper`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from edge_agent.contract.cart import EpochWatermark
from edge_agent.domain.cart import AttrWrite, Effects, Entry, Seal
from edge_agent.domain.ops import CartOp
from edge_agent.store.carts import effect_rows
from simulators.cart_authority import PROFILE_OWNER
from simulators.platform.const import ERASED_CART_TABLES, MAX_EPOCHS_PER_WATERMARK, MAX_GAPS_PER_EPOCH
from simulators.platform.port import Held

if TYPE_CHECKING:
    from simulators.platform.apply import Applied

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS applied_ops (
         device TEXT NOT NULL, epoch TEXT NOT NULL, seq BIGINT NOT NULL, cart_id TEXT NOT NULL,
         applied_at DOUBLE PRECISION NOT NULL, worker TEXT NOT NULL DEFAULT '', PRIMARY KEY (device, epoch, seq))""",
    """CREATE TABLE IF NOT EXISTS watermarks (
         device TEXT NOT NULL, epoch TEXT NOT NULL, applied_upto BIGINT NOT NULL, PRIMARY KEY (device, epoch))""",
    """CREATE TABLE IF NOT EXISTS cart_locks (cart_id TEXT PRIMARY KEY)""",
    """CREATE TABLE IF NOT EXISTS cart_versions (
         cart_id TEXT PRIMARY KEY, version BIGINT NOT NULL, tenant TEXT NOT NULL, store TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS cart_entries (
         entry_id TEXT PRIMARY KEY, cart_id TEXT NOT NULL, sku TEXT NOT NULL, qty INTEGER NOT NULL CHECK (qty > 0),
         hlc BIGINT NOT NULL, origin_device TEXT NOT NULL, serial TEXT)""",
    "CREATE INDEX IF NOT EXISTS cart_entries_by_cart ON cart_entries (cart_id)",
    "CREATE TABLE IF NOT EXISTS cart_tombstones (entry_id TEXT PRIMARY KEY, cart_id TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cart_tombstones_by_cart ON cart_tombstones (cart_id)",
    """CREATE TABLE IF NOT EXISTS cart_attrs (
         cart_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT, hlc BIGINT NOT NULL, device TEXT NOT NULL,
         op_id TEXT NOT NULL, PRIMARY KEY (cart_id, key))""",
    """CREATE TABLE IF NOT EXISTS cart_seals (
         cart_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, entry_ids TEXT NOT NULL, hlc BIGINT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS device_homes (device TEXT PRIMARY KEY, tenant TEXT NOT NULL, store TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS cart_owners (cart_id TEXT PRIMARY KEY, owner TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS cart_grants (
         device TEXT NOT NULL, cart_id TEXT NOT NULL, PRIMARY KEY (device, cart_id))""",
    """CREATE TABLE IF NOT EXISTS issued_credentials (
         cart_id TEXT NOT NULL, fingerprint TEXT NOT NULL, PRIMARY KEY (cart_id, fingerprint))""",
    # PLATFORM_MIGRATIONS' 0009: an erased shopper's cart id, so every worker drops the ops still in flight for it.
    "CREATE TABLE IF NOT EXISTS erased_carts (cart_id TEXT PRIMARY KEY)",
    # Each worker's own count of what it applied, in the apply transaction: summed, it is exactly-once evidence
    # that survives a worker's SIGKILL (its rolled-back batch counted nothing).
    """CREATE TABLE IF NOT EXISTS worker_counters (
         worker TEXT PRIMARY KEY, batches BIGINT NOT NULL, ops_applied BIGINT NOT NULL,
         ops_duplicate BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS held_ops (
         device TEXT NOT NULL, epoch TEXT NOT NULL, seq BIGINT NOT NULL, cart_id TEXT NOT NULL, reason TEXT NOT NULL,
         body TEXT NOT NULL, tenant TEXT NOT NULL, store TEXT NOT NULL, PRIMARY KEY (device, epoch, seq))""",
]
SCHEMA_LOCK_KEY = 0x6564676561676E74
"""pg_advisory_xact_lock key ("edgeagnt") taken while creating the schema: N workers start at once."""

_LIVE_SQL = """SELECT e.entry_id, e.cart_id, e.sku, e.qty, e.hlc, e.origin_device, e.serial FROM cart_entries e
               WHERE e.cart_id = %s AND NOT EXISTS (SELECT 1 FROM cart_tombstones t WHERE t.entry_id = e.entry_id)
               ORDER BY e.hlc, e.entry_id"""


def create_schema(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        for statement in SCHEMA:
            conn.execute(statement)


class PgStore:
    def __init__(self, conn: psycopg.Connection[Any], worker: str = "") -> None:
        self.conn = conn
        self.worker = worker

    def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        return self.conn.execute(sql, params).fetchone()

    def count(self, applied: Applied) -> None:
        """This worker's counters, in the batch's transaction."""
        self.conn.execute(
            """INSERT INTO worker_counters VALUES (%s, 1, %s, %s) ON CONFLICT (worker) DO UPDATE SET
                 batches = worker_counters.batches + 1,
                 ops_applied = worker_counters.ops_applied + excluded.ops_applied,
                 ops_duplicate = worker_counters.ops_duplicate + excluded.ops_duplicate""",
            (self.worker, len(applied.new_ops), applied.duplicates),
        )

    def lock_device(self, device: str, epoch: str) -> None:
        self.conn.execute("INSERT INTO watermarks VALUES (%s, %s, 0) ON CONFLICT DO NOTHING", (device, epoch))
        self.conn.execute("SELECT 1 FROM watermarks WHERE device = %s AND epoch = %s FOR UPDATE", (device, epoch))

    def lock_cart(self, cart_id: str) -> None:
        self.conn.execute("INSERT INTO cart_locks VALUES (%s) ON CONFLICT DO NOTHING", (cart_id,))
        self.conn.execute("SELECT 1 FROM cart_locks WHERE cart_id = %s FOR UPDATE", (cart_id,))

    def record_applied(self, ops: list[CartOp], at: float) -> set[int]:
        """One statement for the whole batch (a round trip per op would dominate a 50-op batch)."""
        if not ops:
            return set()
        rows = self.conn.execute(
            """INSERT INTO applied_ops (device, epoch, seq, cart_id, applied_at, worker)
               SELECT %s, %s, s, c, %s, %s FROM unnest(%s::bigint[], %s::text[]) AS u(s, c)
               ON CONFLICT DO NOTHING RETURNING seq""",
            (ops[0].device, ops[0].epoch, at, self.worker, [o.seq for o in ops], [o.cart_id for o in ops]),
        ).fetchall()
        return {int(r[0]) for r in rows}

    def bind_home(self, device: str, tenant: str, store: str) -> tuple[str, str]:
        self.conn.execute(
            "INSERT INTO device_homes VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", (device, tenant, store)
        )
        row = self._one("SELECT tenant, store FROM device_homes WHERE device = %s", (device,))
        assert row is not None
        return (str(row[0]), str(row[1]))

    def home_of(self, device: str) -> tuple[str, str] | None:
        row = self._one("SELECT tenant, store FROM device_homes WHERE device = %s", (device,))
        return None if row is None else (str(row[0]), str(row[1]))

    def owner_of(self, cart_id: str) -> str | None:
        row = self._one("SELECT owner FROM cart_owners WHERE cart_id = %s", (cart_id,))
        return None if row is None else str(row[0])

    def adopt(self, cart_id: str, device: str) -> None:
        self.conn.execute("INSERT INTO cart_owners VALUES (%s, %s)", (cart_id, device))

    def open_profile(self, cart_id: str, tenant: str, store: str) -> None:
        """A shopper's online cart, homed at a store (the platform's, as CentralPlatform.open_profile_cart)."""
        self.conn.execute(
            "INSERT INTO cart_versions VALUES (%s, 1, %s, %s) ON CONFLICT DO NOTHING", (cart_id, tenant, store)
        )
        self.conn.execute("INSERT INTO cart_owners VALUES (%s, %s) ON CONFLICT DO NOTHING", (cart_id, PROFILE_OWNER))

    def record_grant(self, device: str, cart_id: str) -> None:
        self.conn.execute("INSERT INTO cart_grants VALUES (%s, %s) ON CONFLICT DO NOTHING", (device, cart_id))

    def has_grant(self, device: str, cart_id: str) -> bool:
        return self._one("SELECT 1 FROM cart_grants WHERE device = %s AND cart_id = %s", (device, cart_id)) is not None

    def record_issued(self, cart_id: str, fingerprint: str) -> None:
        self.conn.execute(
            "INSERT INTO issued_credentials VALUES (%s, %s) ON CONFLICT DO NOTHING", (cart_id, fingerprint)
        )

    def issued_fingerprints(self, cart_id: str) -> list[str]:
        rows = self.conn.execute("SELECT fingerprint FROM issued_credentials WHERE cart_id = %s", (cart_id,))
        return [str(row[0]) for row in rows.fetchall()]

    def forget_issued(self, cart_id: str) -> None:
        self.conn.execute("DELETE FROM issued_credentials WHERE cart_id = %s", (cart_id,))

    def erased_among(self, cart_ids: Iterable[str]) -> set[str]:
        rows = self.conn.execute("SELECT cart_id FROM erased_carts WHERE cart_id = ANY(%s)", (list(cart_ids),))
        return {str(r[0]) for r in rows.fetchall()}

    def record_erased(self, cart_id: str) -> None:
        self.conn.execute("INSERT INTO erased_carts VALUES (%s) ON CONFLICT DO NOTHING", (cart_id,))

    def erase_shopper(self, cart_id: str) -> None:
        """Right to be forgotten, in the caller's transaction: the cart's rows, its held ops and its credentials'
        fingerprints go, and it is marked erased. Under the cart's lock: a batch that holds it commits first (its
        rows are deleted here), one that waits for it sees the mark and drops its ops (simulators/platform/apply.py)."""
        self.lock_cart(cart_id)
        self.record_erased(cart_id)
        for table in ERASED_CART_TABLES:
            self.conn.execute(sql.SQL("DELETE FROM {} WHERE cart_id = %s").format(sql.Identifier(table)), (cart_id,))
        self.forget_issued(cart_id)

    def hold(self, tenant: str, store: str, held: Held) -> None:
        op = held.op
        self.conn.execute(
            "INSERT INTO held_ops VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (
                op.device,
                op.epoch,
                op.seq,
                op.cart_id,
                held.reason,
                op.model_dump_json(exclude_none=True),
                tenant,
                store,
            ),
        )

    def release(self, device: str, cart_id: str) -> list[CartOp]:
        rows = self.conn.execute(
            "DELETE FROM held_ops WHERE device = %s AND cart_id = %s RETURNING epoch, seq, body", (device, cart_id)
        ).fetchall()
        return [CartOp.model_validate_json(body) for _, _, body in sorted(rows)]

    def apply_effects(self, effects: Iterable[Effects]) -> None:
        entries, tombstones, attrs = effect_rows(effects)
        with self.conn.cursor() as cur:
            if entries:
                cur.executemany(
                    """INSERT INTO cart_entries (entry_id, cart_id, sku, qty, hlc, origin_device, serial)
                       VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                    entries,
                )
            if tombstones:
                cur.executemany("INSERT INTO cart_tombstones VALUES (%s, %s) ON CONFLICT DO NOTHING", tombstones)
            if attrs:  # LWW by (hlc, device, op_id), as AttrWrite.beats and edge_agent/store/carts.py
                cur.executemany(
                    """INSERT INTO cart_attrs VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (cart_id, key) DO UPDATE
                       SET value = excluded.value, hlc = excluded.hlc, device = excluded.device, op_id = excluded.op_id
                       WHERE (excluded.hlc, excluded.device, excluded.op_id)
                             > (cart_attrs.hlc, cart_attrs.device, cart_attrs.op_id)""",
                    attrs,
                )

    def live_entries(self, cart_id: str) -> list[Entry]:
        return [Entry(*row) for row in self.conn.execute(_LIVE_SQL, (cart_id,))]

    def tombstones(self, cart_id: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT entry_id FROM cart_tombstones WHERE cart_id = %s ORDER BY entry_id", (cart_id,)
        )
        return [r[0] for r in rows]

    def attrs(self, cart_id: str) -> list[AttrWrite]:
        rows = self.conn.execute(
            "SELECT key, value, hlc, device, op_id FROM cart_attrs WHERE cart_id = %s ORDER BY key", (cart_id,)
        )
        return [AttrWrite(*row) for row in rows]

    def seal_of(self, cart_id: str) -> Seal | None:
        row = self._one("SELECT order_id, entry_ids, hlc FROM cart_seals WHERE cart_id = %s", (cart_id,))
        return None if row is None else Seal(row[0], tuple(json.loads(row[1])), row[2])

    def record_seal(self, cart_id: str, seal: Seal) -> bool:
        cur = self.conn.execute(
            "INSERT INTO cart_seals VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (cart_id, seal.order_id, json.dumps(list(seal.entry_ids)), seal.hlc),
        )
        return cur.rowcount > 0

    def bump_version(self, cart_id: str, tenant: str, store: str) -> None:
        self.conn.execute(
            "INSERT INTO cart_versions VALUES (%s, 1, %s, %s) "
            "ON CONFLICT (cart_id) DO UPDATE SET version = cart_versions.version + 1",
            (cart_id, tenant, store),
        )

    def cart_version(self, cart_id: str) -> int | None:
        row = self._one("SELECT version FROM cart_versions WHERE cart_id = %s", (cart_id,))
        return None if row is None else int(row[0])

    def cart_home(self, cart_id: str) -> tuple[str, str] | None:
        row = self._one("SELECT tenant, store FROM cart_versions WHERE cart_id = %s", (cart_id,))
        return None if row is None else (str(row[0]), str(row[1]))

    def advance_watermark(self, device: str, epoch: str) -> None:
        """One statement (the row is locked): if the next seq is applied, the end of the run it starts."""
        self.conn.execute(
            """UPDATE watermarks w SET applied_upto = CASE
                 WHEN EXISTS (SELECT 1 FROM applied_ops n
                              WHERE n.device = w.device AND n.epoch = w.epoch AND n.seq = w.applied_upto + 1)
                 THEN (SELECT min(a.seq) FROM applied_ops a
                       WHERE a.device = w.device AND a.epoch = w.epoch AND a.seq > w.applied_upto
                         AND NOT EXISTS (SELECT 1 FROM applied_ops b
                                         WHERE b.device = a.device AND b.epoch = a.epoch AND b.seq = a.seq + 1))
                 ELSE w.applied_upto END
               WHERE w.device = %s AND w.epoch = %s""",
            (device, epoch),
        )

    def watermarks(self, device: str) -> list[EpochWatermark]:
        marks = []
        rows = self.conn.execute(
            "SELECT epoch, applied_upto FROM watermarks WHERE device = %s LIMIT %s", (device, MAX_EPOCHS_PER_WATERMARK)
        ).fetchall()
        for epoch, upto in rows:
            above = self.conn.execute(
                "SELECT seq FROM applied_ops WHERE device = %s AND epoch = %s AND seq > %s ORDER BY seq LIMIT %s",
                (device, epoch, upto, MAX_GAPS_PER_EPOCH),
            ).fetchall()
            marks.append(EpochWatermark(epoch=epoch, applied_upto=int(upto), applied_above=[int(r[0]) for r in above]))
        return marks
