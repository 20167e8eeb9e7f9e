"""Schemas of the device database and the platform simulator's database.

Both hold the same cart tables, so a cart merges the same way everywhere (sync note §3.2).
"""

from __future__ import annotations

import json
import sqlite3

from edge_agent.store.db import Migration


def _cart_tables(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE cart_entries (
             entry_id TEXT PRIMARY KEY, cart_id TEXT NOT NULL, sku TEXT NOT NULL,
             qty INTEGER NOT NULL CHECK (qty > 0), hlc INTEGER NOT NULL, origin_device TEXT NOT NULL
           ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX cart_entries_by_cart ON cart_entries(cart_id)")
    # A tombstone may name an entry that has not arrived yet, so there is no foreign key.
    db.execute("CREATE TABLE cart_tombstones (entry_id TEXT PRIMARY KEY, cart_id TEXT NOT NULL) WITHOUT ROWID")
    db.execute("CREATE INDEX cart_tombstones_by_cart ON cart_tombstones(cart_id)")
    db.execute(
        """CREATE TABLE cart_attrs (
             cart_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT, hlc INTEGER NOT NULL, device TEXT NOT NULL,
             op_id TEXT NOT NULL,
             PRIMARY KEY (cart_id, key)
           ) WITHOUT ROWID"""
    )


def _device_tables(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
    db.execute(
        """CREATE TABLE carts (
             cart_id TEXT PRIMARY KEY, opened_at REAL NOT NULL, snapshot_version INTEGER NOT NULL DEFAULT 0
           ) WITHOUT ROWID"""
    )
    # AUTOINCREMENT: a plain INTEGER PRIMARY KEY reuses max(seq)+1 after the newest row is purged, and a
    # reused seq is an op id the platform has already applied -- that op would be silently dropped.
    # (0009 moves that high-water mark to meta and rebuilds this table without AUTOINCREMENT.)
    db.execute(
        """CREATE TABLE outbox (
             seq INTEGER PRIMARY KEY AUTOINCREMENT,
             cart_id TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL, hlc INTEGER NOT NULL,
             created_at REAL NOT NULL,
             state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'sent')),
             attempts INTEGER NOT NULL DEFAULT 0, last_sent_at REAL
           )"""
    )
    db.execute("CREATE INDEX outbox_by_state ON outbox(state, seq)")
    db.execute(
        """CREATE TABLE rejects (
             id INTEGER PRIMARY KEY, at REAL NOT NULL, source TEXT NOT NULL, reason TEXT NOT NULL,
             detail TEXT NOT NULL
           )"""
    )


def _platform_tables(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE applied_ops (
             device TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL, cart_id TEXT NOT NULL,
             applied_at REAL NOT NULL, PRIMARY KEY (device, epoch, seq)
           ) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE watermarks (
             device TEXT NOT NULL, epoch TEXT NOT NULL, applied_upto INTEGER NOT NULL,
             PRIMARY KEY (device, epoch)
           ) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE cart_versions (
             cart_id TEXT PRIMARY KEY, version INTEGER NOT NULL, tenant TEXT NOT NULL, store TEXT NOT NULL
           ) WITHOUT ROWID"""
    )
    db.execute("""CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID""")


def _cart_seals(db: sqlite3.Connection) -> None:
    # Written by the platform only; replicas learn it from snapshots. The first seal of a cart is final.
    db.execute(
        """CREATE TABLE cart_seals (
             cart_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, entry_ids TEXT NOT NULL, hlc INTEGER NOT NULL
           ) WITHOUT ROWID"""
    )


def _entry_serials(db: sqlite3.Connection) -> None:
    # GS1 AI 21: NULL for unserialised entries; entries sharing (cart, sku, serial) are one item.
    db.execute("ALTER TABLE cart_entries ADD COLUMN serial TEXT")


def _catalog(db: sqlite3.Connection) -> None:
    """The store's catalog, prices and stock as the platform last published them, for offline lookups.
    Each figure keeps its own as-of time; ``version`` orders updates of one item (older ones are ignored)."""
    db.execute(
        """CREATE TABLE catalog_items (
             gtin14 TEXT PRIMARY KEY, version INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
             name TEXT NOT NULL DEFAULT '', style TEXT, size TEXT, colour TEXT,
             price_minor INTEGER, currency TEXT, price_as_of REAL,
             stock INTEGER, stock_as_of REAL, related TEXT NOT NULL DEFAULT '[]'
           ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX catalog_by_style ON catalog_items(style) WHERE style IS NOT NULL")


def _event_outbox(db: sqlite3.Connection) -> None:
    """Workflow events (lookups, stock signals, price reports) waiting for the broker. At least once: a row goes
    on PUBACK; consumers dedupe by the CloudEvent id. The shopper's carts never travel this way (the op outbox)."""
    db.execute(
        """CREATE TABLE event_outbox (
             id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL
           )"""
    )


def _profile_carts(db: sqlite3.Connection) -> None:
    # A shopper's profile cart arrives with an identification; every other cart (guest baskets, totes, pick
    # carts) is this device's own. Only profile carts may be erased at the platform's request (issue 10).
    db.execute("ALTER TABLE carts ADD COLUMN profile INTEGER NOT NULL DEFAULT 0")
    db.execute(
        """UPDATE carts SET profile = 1
           WHERE substr(cart_id, 1, length((SELECT value FROM meta WHERE key = 'device_id')) + 1)
                 != (SELECT value FROM meta WHERE key = 'device_id') || '-'
             AND cart_id NOT LIKE 'tote-%' AND cart_id NOT LIKE 'pick-%'"""
    )


def _cart_authority(db: sqlite3.Connection) -> None:
    # The platform's duty (docs/asyncapi.yaml): a device is homed at the store it first published from, a cart
    # belongs to the device that created it, a profile cart is written only by a device that confirmed a merge
    # naming it, and an op a device may not write is held (never applied, never lost) until a grant arrives.
    db.execute("CREATE TABLE device_homes (device TEXT PRIMARY KEY, tenant TEXT NOT NULL, store TEXT NOT NULL)")
    db.execute("CREATE TABLE cart_owners (cart_id TEXT PRIMARY KEY, owner TEXT NOT NULL) WITHOUT ROWID")
    db.execute("CREATE TABLE cart_grants (device TEXT NOT NULL, cart_id TEXT NOT NULL, PRIMARY KEY (device, cart_id))")
    db.execute(
        """CREATE TABLE held_ops (
             device TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL, cart_id TEXT NOT NULL,
             reason TEXT NOT NULL, body TEXT NOT NULL, tenant TEXT NOT NULL, store TEXT NOT NULL,
             PRIMARY KEY (device, epoch, seq)
           ) WITHOUT ROWID"""
    )


def _basket_claims(db: sqlite3.Connection) -> None:
    # Take my basket to my phone (simulators/basket_claims.py): a guest basket claimed once into a profile cart,
    # and what of it was joined so far (lines that reach the platform after the claim are joined as they arrive).
    db.execute(
        "CREATE TABLE basket_claims (cart_id TEXT PRIMARY KEY, claim_id TEXT NOT NULL, device TEXT NOT NULL, "
        "profile_cart TEXT NOT NULL, claimed_ms INTEGER NOT NULL) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX basket_claims_by_profile ON basket_claims (profile_cart)")
    db.execute(
        "CREATE TABLE basket_claim_lines (cart_id TEXT NOT NULL, sku TEXT NOT NULL, qty INTEGER NOT NULL, "
        "PRIMARY KEY (cart_id, sku)) WITHOUT ROWID"
    )


def _outbox_unsettled(db: sqlite3.Connection) -> None:
    # Write amplification (issue 14): an index of every row's state cost each recorded op a page of its own.
    # Only the rows out on the wire (leased, sent: a window's worth) need finding by state; pending rows are
    # found by seq, after the lease cursor (DeviceStore.lease). A new op, always pending, touches no index.
    db.execute("DROP INDEX outbox_by_state")
    db.execute("CREATE INDEX outbox_unsettled ON outbox(seq) WHERE state != 'pending'")


SEQ_ISSUED_KEY = "hlc.seq"
"""The meta row holding the highest seq ever issued, next to 'hlc' on one page. Since 0011 the newest outbox row
holds both marks and meta takes them over only when that row is erased (store/outbox.py); the newer one wins."""


def _outbox_seq_in_meta(db: sqlite3.Connection) -> None:
    # Write amplification (issue 14): AUTOINCREMENT rewrote sqlite_sequence's page at every op. The high-water
    # mark moves to meta and is still written in the op's own transaction, so a seq is never reused after the
    # newest row is deleted (the reason AUTOINCREMENT was there).
    db.execute(
        """CREATE TABLE outbox_new (
             seq INTEGER PRIMARY KEY,
             cart_id TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL, hlc INTEGER NOT NULL,
             created_at REAL NOT NULL,
             state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'sent')),
             attempts INTEGER NOT NULL DEFAULT 0, last_sent_at REAL
           )"""
    )
    db.execute(
        "INSERT INTO outbox_new SELECT seq, cart_id, kind, body, hlc, created_at, state, attempts, last_sent_at "
        "FROM outbox"
    )
    db.execute(
        "INSERT OR REPLACE INTO meta VALUES (?, CAST((SELECT max(coalesce((SELECT seq FROM sqlite_sequence "
        "WHERE name = 'outbox'), 0), coalesce((SELECT max(seq) FROM outbox), 0))) AS TEXT))",
        (SEQ_ISSUED_KEY,),
    )
    db.execute("DROP TABLE outbox")
    db.execute("DELETE FROM sqlite_sequence WHERE name = 'outbox'")
    db.execute("ALTER TABLE outbox_new RENAME TO outbox")
    db.execute("CREATE INDEX outbox_unsettled ON outbox(seq) WHERE state != 'pending'")


def _attribution(db: sqlite3.Connection) -> None:
    # In-store session → online order attribution (simulators/attribution.py): the workflow events the devices
    # publish (without the shopper's profile: attribution needs only the opaque key), the sessions whose merge
    # wrote their attribution key into a profile cart, and the online orders with the sessions they credit.
    db.execute(
        """CREATE TABLE session_events (
             event_id TEXT PRIMARY KEY, name TEXT NOT NULL, store TEXT NOT NULL, device TEXT NOT NULL,
             session_id TEXT, attribution_key TEXT, data TEXT NOT NULL, occurred_ms INTEGER NOT NULL
           ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX session_events_by_key ON session_events (attribution_key, occurred_ms)")
    db.execute(
        """CREATE TABLE cart_merges (
             profile_cart TEXT NOT NULL, attribution_key TEXT NOT NULL, device TEXT NOT NULL, store TEXT NOT NULL,
             merged_ms INTEGER NOT NULL, PRIMARY KEY (profile_cart, attribution_key)
           ) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE online_orders (
             order_id TEXT PRIMARY KEY, profile_cart TEXT NOT NULL, placed_ms INTEGER NOT NULL, lines TEXT NOT NULL
           ) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE order_attributions (
             order_id TEXT NOT NULL, via TEXT NOT NULL CHECK (via IN ('merge', 'claim')), ref TEXT NOT NULL,
             device TEXT NOT NULL, store TEXT NOT NULL, touched_ms INTEGER NOT NULL, PRIMARY KEY (order_id, via, ref)
           ) WITHOUT ROWID"""
    )


def _issued_credentials(db: sqlite3.Connection) -> None:
    # EA2 merge grants (simulators/cart_authority.py): the SHA-256 fingerprints of the credentials the platform
    # issued, per profile cart, never the credentials; a device's fingerprint grant must match one of them. IF NOT
    # EXISTS: a platform database made before 0008 already has the table, created outside the migrations.
    db.execute(
        """CREATE TABLE IF NOT EXISTS issued_credentials (
             cart_id TEXT NOT NULL, fingerprint TEXT NOT NULL, PRIMARY KEY (cart_id, fingerprint)
           ) WITHOUT ROWID"""
    )


def _catalog_availability(db: sqlite3.Connection) -> None:
    """Endless aisle: an item's availability beyond this store, one row per source (``store`` '' is online).
    Not a column of ``catalog_items``: each source keeps its newest count on its own (store/availability.py)."""
    db.execute(
        """CREATE TABLE catalog_availability (
             gtin14 TEXT NOT NULL, store TEXT NOT NULL, qty INTEGER NOT NULL, as_of REAL NOT NULL,
             PRIMARY KEY (gtin14, store)
           ) WITHOUT ROWID"""
    )


def _write_amplification(db: sqlite3.Connection) -> None:
    # Issue 14, bytes written per op. The outbox keeps its rows only: the lease/sent states live in the agent's
    # memory (store/outbox.py; they were reset at every start anyway), so no op writes an index or a state, and
    # lease and mark_sent write nothing at all. Cart entries are keyed by cart first, so a basket's entries share
    # leaf pages and the by-cart index (a page of its own at every add) goes. The platform's tables keep theirs.
    db.execute(
        """CREATE TABLE outbox_new (
             seq INTEGER PRIMARY KEY,
             cart_id TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL, hlc INTEGER NOT NULL,
             created_at REAL NOT NULL
           )"""
    )
    db.execute("INSERT INTO outbox_new SELECT seq, cart_id, kind, body, hlc, created_at FROM outbox")
    db.execute("DROP TABLE outbox")
    db.execute("ALTER TABLE outbox_new RENAME TO outbox")
    db.execute(
        """CREATE TABLE cart_entries_new (
             entry_id TEXT NOT NULL, cart_id TEXT NOT NULL, sku TEXT NOT NULL,
             qty INTEGER NOT NULL CHECK (qty > 0), hlc INTEGER NOT NULL, origin_device TEXT NOT NULL, serial TEXT,
             PRIMARY KEY (cart_id, entry_id)
           ) WITHOUT ROWID"""
    )
    db.execute(
        "INSERT INTO cart_entries_new SELECT entry_id, cart_id, sku, qty, hlc, origin_device, serial FROM cart_entries"
    )
    db.execute("DROP TABLE cart_entries")
    db.execute("ALTER TABLE cart_entries_new RENAME TO cart_entries")


def _event_owner(db: sqlite3.Connection) -> None:
    # Erasure and a withdrawn "profile" consent drop the unsent workflow events of the shopper's identified sessions
    # too (retail note §4 rule 5: every local row for that shopper, outbox payloads included). The profile cart an
    # event was queued under is kept beside it, never sent; NULL for anonymous sessions and device events.
    db.execute("ALTER TABLE event_outbox ADD COLUMN profile_cart TEXT")


def _purge_schedule(db: sqlite3.Connection) -> None:
    # Ended baskets' retention (roles/sessions.py) as rows instead of one JSON value in meta (store/purges.py).
    db.execute(
        """CREATE TABLE purge_schedule (
             cart_id TEXT PRIMARY KEY, due_at REAL NOT NULL, tried_at REAL NOT NULL DEFAULT 0
           ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX purge_schedule_by_due ON purge_schedule (due_at)")
    row = db.execute("SELECT value FROM meta WHERE key = 'purge_due'").fetchone()
    if row and row[0]:
        due = json.loads(row[0])
        rows = [(str(k), float(v)) for k, v in due.items()]
        db.executemany("INSERT INTO purge_schedule (cart_id, due_at) VALUES (?, ?)", rows)
    db.execute("DELETE FROM meta WHERE key = 'purge_due'")


DEVICE_MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_cart_tables", _cart_tables),
    ("0002_device_tables", _device_tables),
    ("0003_cart_seals", _cart_seals),
    ("0004_entry_serials", _entry_serials),
    ("0005_catalog", _catalog),
    ("0006_event_outbox", _event_outbox),
    ("0007_profile_carts", _profile_carts),
    ("0008_outbox_unsettled", _outbox_unsettled),
    ("0009_outbox_seq_in_meta", _outbox_seq_in_meta),
    ("0010_catalog_availability", _catalog_availability),
    ("0011_write_amplification", _write_amplification),
    ("0012_event_owner", _event_owner),
    ("0013_purge_schedule", _purge_schedule),
]


def _erased_carts(db: sqlite3.Connection) -> None:
    # The platform's erased shoppers' carts (simulators/platform/apply.py): ops for one that are still in flight
    # are acknowledged and never applied, across a restart too. The cart id alone, no shopper data.
    db.execute("CREATE TABLE erased_carts (cart_id TEXT PRIMARY KEY) WITHOUT ROWID")


PLATFORM_MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_cart_tables", _cart_tables),
    ("0002_platform_tables", _platform_tables),
    ("0003_cart_seals", _cart_seals),
    ("0004_entry_serials", _entry_serials),
    ("0005_cart_authority", _cart_authority),
    ("0006_basket_claims", _basket_claims),
    ("0007_attribution", _attribution),
    ("0008_issued_credentials", _issued_credentials),
    ("0009_erased_carts", _erased_carts),
]
