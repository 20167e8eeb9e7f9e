"""The device database: baskets, the durable outbox of ops, and the agent's own metadata.

The outbox is the source of truth (sync note §0): a row is appended in the same transaction as the cart
change it records, and deleted only when the platform's applied watermark covers it. Its port, the five
lease-then-ack methods, is store/outbox.py. A plain scan's cart change is its row: the entry is held in memory and
filed into cart_entries when the watermark confirms it (store/held.py).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from edge_agent.const import DEFAULT_MAX_CLOCK_AHEAD_S
from edge_agent.domain.basket import AddItem, BasketCommand, Refused, plan
from edge_agent.domain.cart import AttrWrite, Effects, Entry, Line, Seal, lines_of, quantities
from edge_agent.domain.hlc import HybridClock, stored_clock_problem
from edge_agent.domain.ops import CartOp, OpKind, split_op_id
from edge_agent.store import carts
from edge_agent.store.budget import StorageBudget
from edge_agent.store.db import StorageError, bookkeeping_transaction, connect, migrate, new_epoch, transaction
from edge_agent.store.device_meta import MetaPort
from edge_agent.store.event_outbox import EventOutboxPort
from edge_agent.store.faults import StorageFaults, StorageFull
from edge_agent.store.held import HeldEntries, with_held
from edge_agent.store.op_rows import OpBatch, build_row, identity_fits, random_uuids, scan_row
from edge_agent.store.outbox import CONFIRMED_KIND, OutboxPort, newest_hlc, stored_seq
from edge_agent.store.quarantine import open_checked
from edge_agent.store.schema import DEVICE_MIGRATIONS, SEQ_ISSUED_KEY

log = logging.getLogger(__name__)

CART_TABLES = ("cart_entries", "cart_tombstones", "cart_attrs", "cart_seals", "carts", "purge_schedule")
"""Every table keyed by cart_id that holds a cart's state or its retention (not the outbox)."""


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Recorded(NamedTuple):
    """What became of one command of a group: its op, or why it was refused (a named tuple: one per op recorded,
    built in a third of a frozen dataclass's time)."""

    command: BasketCommand
    op: CartOp | None
    refused: Refused | None = None


@dataclass(frozen=True, slots=True)
class Erased:
    """What forgetting a cart dropped before it left the device: its unsent ops and workflow events."""

    ops: int = 0
    events: int = 0


class DeviceStore(OutboxPort, EventOutboxPort, MetaPort):
    """Owns one sqlite3 connection; all methods run on the caller's thread (the agent's event loop)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        device_id: str,
        epoch: str,
        clock: HybridClock,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.conn = conn
        self.device_id = device_id
        self.epoch = epoch
        self.clock = clock
        self._now = now
        self.faults = StorageFaults()
        self.budget = StorageBudget()
        """storage.max_bytes; the agent sets it and its collector (store/budget.py)."""
        self._identity_fits = identity_fits(device_id, epoch)
        """Checked once: every op of this store carries this device id and epoch (store/op_rows.py)."""
        self._init_outbox_state()
        self._init_event_outbox()
        self._seq_issued = self._seq_persisted = stored_seq(conn)
        self._held = HeldEntries.load(conn, self._seq_issued)
        """Unconfirmed scans' entries, in their outbox rows only until confirmed (store/held.py)."""
        self._carts_known: set[str] = set()
        """Carts a committed group wrote (purge and erasure forget them): a group of these inserts no carts row."""
        self._session_extra = 0
        """Session numbers taken while the disk was full (not persisted): later ones stay above them."""

    @classmethod
    def open(
        cls,
        path: Path | str,
        device_id: str,
        *,
        wall_ms: Callable[[], int] = wall_clock_ms,
        now: Callable[[], float] = time.time,
        max_clock_ahead_s: float = DEFAULT_MAX_CLOCK_AHEAD_S,
    ) -> DeviceStore:
        conn, quarantined = open_checked(Path(path), connect)
        migrate(conn, DEVICE_MIGRATIONS)
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if "device_id" not in meta:
            with transaction(conn):
                meta = {"device_id": device_id, "epoch": new_epoch(), "hlc": "0", "mqtt_session": "0"}
                conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        if quarantined is not None:  # the new database says what became of the old one
            with transaction(conn):
                conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", quarantined.to_meta().items())
        if meta["device_id"] != device_id:
            raise StorageError(
                f"{path} belongs to device {meta['device_id']!r}, not {device_id!r}: op ids would collide; "
                "use a new state directory for a new device id"
            )
        max_ahead_ms = int(max_clock_ahead_s * 1000)
        stored_hlc = _stored_clock(newest_hlc(conn, meta.get("hlc", "0")), wall_ms(), max_ahead_ms)
        clock = HybridClock(wall_ms, stored_hlc, max_ahead_ms)
        store = cls(conn, device_id, meta["epoch"], clock, now)
        # Nothing leased or sent is remembered across a restart: everything unconfirmed is sent again (duplicates
        # are harmless). The high-water marks the newest outbox row held go to meta, and the sent figure of
        # `edge-agent status` starts again at 0. On a full disk this waits for the first confirm, so the agent
        # still starts.
        with contextlib.suppress(StorageFull), StorageFaults().guard(conn, transaction(conn)):
            conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                (
                    ("hlc", str(stored_hlc)),
                    (SEQ_ISSUED_KEY, str(store._seq_issued)),
                    store._held.mark_meta(),
                    *store.outbox_meta().items(),
                ),
            )
            store._seq_persisted = store._seq_issued
            store._held.persisted = True
        store.faults.db_path = Path(path)
        return store

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error, StorageError):  # best effort: a row left is only sent again
            self.settle_confirms()
            self.file_held()
        self.conn.close()

    def file_held(self) -> None:
        """Every held entry into cart_entries (store/held.py), as a clean stop does: the file then reads as an
        earlier release wrote it, so a fleet rollback to one (which knows no held entries) shows every line. A
        bookkeeping commit: a power cut that takes it takes its mark too, and the next open holds them again."""
        if not self._held.by_seq:
            return
        with self._bookkeeping() as conn:
            self._held.file_all(conn, self._seq_issued)
        self._held.filed_all(self._seq_issued)

    @property
    def path(self) -> Path:
        """The database file this store's connection writes (another thread opens its own connection to it)."""
        return Path(self.conn.execute("PRAGMA database_list").fetchone()[2])

    def autocheckpoint(self, pages: int) -> None:
        """0 while a checkpoint thread runs (store/checkpoint.py), so no commit here ever checkpoints itself."""
        self.conn.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """A durable transaction (synchronous=FULL), its faults classified (store/faults.py)."""
        return self.faults.guard(self.conn, self._settling(transaction(self.conn)))

    def _bookkeeping(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.faults.guard(self.conn, self._settling(bookkeeping_transaction(self.conn)))

    @contextlib.contextmanager
    def _settling(self, tx: AbstractContextManager[sqlite3.Connection]) -> Iterator[sqlite3.Connection]:
        """Every write transaction first deletes the rows confirmed since the last one (store/outbox.py) and the
        event rows PUBACKed since (store/event_outbox.py)."""
        with tx as conn:
            settled = self._settle_confirms(conn)
            filed = self._held.file_confirmed(conn, *settled) if settled else ()
            acked = self._settle_event_acks(conn)
            yield conn
        self._confirms_settled(settled)
        self._held.forget(filed)
        self._event_acks_settled(acked)

    def _deletes_deferred(self) -> bool:
        return super()._deletes_deferred() or bool(self._events_acked)

    # --- baskets -----------------------------------------------------------------------------------------
    def open_cart(self, cart_id: str, *, profile: bool = False) -> None:
        """``profile``: a shopper's profile cart (from an identification), the only kind erasure may remove."""
        with self._write():
            self._ensure_cart(cart_id)
            if profile:
                self.conn.execute("UPDATE carts SET profile = 1 WHERE cart_id = ?", (cart_id,))

    def is_profile_cart(self, cart_id: str) -> bool:
        row = self.conn.execute("SELECT profile FROM carts WHERE cart_id = ?", (cart_id,)).fetchone()
        return bool(row and row[0])

    def highest_issued_seq(self) -> int:
        """The largest seq this database ever gave an op (in its one epoch); an ack above it covers nothing real."""
        return self._seq_issued

    def snapshot_version(self, cart_id: str) -> int | None:
        row = self.conn.execute("SELECT snapshot_version FROM carts WHERE cart_id = ?", (cart_id,)).fetchone()
        return None if row is None else int(row[0])

    def cart_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT cart_id FROM carts ORDER BY opened_at, cart_id")]

    def live_entries(self, cart_id: str) -> list[Entry]:
        """cart_entries' live rows and the cart's held entries (never tombstoned: a removal files them first)."""
        return with_held(carts.live_entries(self.conn, cart_id), self._held.of_cart(cart_id))

    def all_entries(self, cart_id: str) -> list[Entry]:
        """Every entry the store holds for a cart, dead ones (tombstoned, not yet collected) included."""
        return carts.all_entries(self.conn, cart_id) + self._held.of_cart(cart_id)

    def seal_of(self, cart_id: str) -> Seal | None:
        return carts.seal_of(self.conn, cart_id)

    def cart_attrs(self, cart_id: str) -> dict[str, str | None]:
        """A cart's LWW attributes (a tote's state, associate and customer; the platform's order id)."""
        return {a.key: a.value for a in carts.attrs(self.conn, cart_id)}

    def quantities(self, cart_id: str) -> dict[str, int]:
        if self._held.by_cart.get(cart_id):
            return quantities(self.live_entries(cart_id))
        return carts.quantities(self.conn, cart_id)

    def unconfirmed_attrs(self, cart_id: str) -> set[str]:
        """Attribute keys of a cart with an op the platform has not confirmed yet (a consent change, an accepted
        offer): what a screen shows as "waiting for the platform"."""
        rows = self.conn.execute(
            "SELECT seq, json_extract(body, '$.key') FROM outbox WHERE cart_id = ? AND kind = ?",
            (cart_id, OpKind.ATTR_SET.value),
        )
        return {str(key) for seq, key in rows if key is not None and not self._is_settled(seq)}

    def purge_cart(self, cart_id: str) -> bool:
        """Forget a cart on this device (retention, consent). Refused while any of its ops is unconfirmed:
        purging must never lose an op the shopper saw saved. Returns whether it was purged."""
        with self._write():
            if self.conn.execute("SELECT 1 FROM outbox WHERE cart_id = ? LIMIT 1", (cart_id,)).fetchone():
                return False
            for table in CART_TABLES:
                self.conn.execute(f"DELETE FROM {table} WHERE cart_id = ?", (cart_id,))
        self._carts_known.discard(cart_id)
        return True

    def erase_cart(self, cart_id: str) -> Erased:
        """Forget a cart at the platform's erasure request or a withdrawn "profile" consent, unsent edits included
        (the platform has erased the cart; delivering them would bring the shopper's data back), and the unsent
        workflow events queued while it was a session's profile cart."""
        with self._write():
            newest = self._newest_seq()
            dropped = [
                r[0] for r in self.conn.execute("DELETE FROM outbox WHERE cart_id = ? RETURNING seq", (cart_id,))
            ]
            persisted = self._keep_high_water(newest) if dropped else None
            for table in CART_TABLES:
                self.conn.execute(f"DELETE FROM {table} WHERE cart_id = ?", (cart_id,))
            events = self.conn.execute("DELETE FROM event_outbox WHERE profile_cart = ?", (cart_id,)).rowcount
        if persisted is not None:
            self._seq_persisted = persisted
        self._held.drop_cart(cart_id)
        self._carts_known.discard(cart_id)
        for seq in dropped:
            self._forget(seq)
        return Erased(ops=len(dropped), events=events)

    def attr_writes(self, cart_id: str) -> list[AttrWrite]:
        """A cart's attributes with who wrote them (an endless-aisle answer names the request it decided)."""
        return carts.attrs(self.conn, cart_id)

    def unconfirmed(self, op_id: str) -> bool:
        """This device's op is still in the outbox: the platform has not confirmed receiving it."""
        device, epoch, seq = split_op_id(op_id)
        if (device, epoch) != (self.device_id, self.epoch):
            return False
        if self._is_settled(seq):
            return False
        row = self.conn.execute("SELECT 1 FROM outbox WHERE seq = ? AND kind != ?", (seq, CONFIRMED_KIND)).fetchone()
        return row is not None  # the emptied high-water row is a confirmed op

    def lines(self, cart_id: str) -> list[Line]:
        return lines_of(self.live_entries(cart_id))

    def record(self, commands: Sequence[BasketCommand], meta: Mapping[str, str] | None = None) -> list[Recorded]:
        """Plan, apply and append every command in ONE durable transaction (group commit).

        Each command is planned against the state left by the ones before it, so a remove in the same
        group observes an add just made. When this returns, every op it holds is saved, and so is ``meta``
        (a workflow's state written with the ops that express it, so a crash never splits them).
        On a full disk nothing is saved and every command comes back refused ``storage_full`` (shown and counted
        like any refusal); the next group tries again, so recording resumes by itself once there is room.
        """
        over = self.budget.refusal(self.conn, commands)
        held = [Recorded(c, None, over) for c in commands if over is not None and isinstance(c, AddItem)]
        if held:
            commands = [c for c in commands if not isinstance(c, AddItem)]
            if not commands and not meta:
                return held
        try:
            return held + self._record(commands, meta)
        except StorageFull as exc:
            if not commands:
                raise
            return held + [Recorded(c, None, Refused("storage_full", f"the disk is full: {exc}")) for c in commands]

    def _record(self, commands: Sequence[BasketCommand], meta: Mapping[str, str] | None) -> list[Recorded]:
        results: list[Recorded] = []
        conn, held, known = self.conn, self._held, self._carts_known
        # Plain scans hold their entries in their outbox rows (a page less per lone commit: store/held.py); any
        # other command observes its cart in SQL, so every held entry is filed first.
        hold = (
            not self.budget.tight
            and held.can_hold(len(commands))
            and all(type(c) is AddItem and c.serial is None for c in commands)
        )
        batch = OpBatch(hold=hold)
        with self.faults.guard(conn, self._settling(transaction(conn)), records_ops=True):
            seq = self._seq_issued + 1
            filing = not hold and bool(held.by_seq)
            if filing:
                held.file_all(conn, self._seq_issued)
            uuids = random_uuids(len(commands))
            device, epoch, fits = self.device_id, self.epoch, self._identity_fits
            created_at = self._now()  # one commit, one time: its rows are saved together
            for command in commands:
                cart_id = command.cart_id
                if cart_id not in known and cart_id not in batch.carts:
                    batch.carts[cart_id] = created_at
                # A plain add observes nothing, so it skips the read and, once its fields pass the fast checks, the
                # planner too (the hot path: a scan); anything else reads its cart, after writing what this group
                # planned so far, so it observes it.
                uuid, hlc = next(uuids), self.clock.now()  # a refused command only skips an HLC tick
                if isinstance(command, AddItem) and command.serial is None:
                    scan = scan_row(
                        command, device=device, epoch=epoch, seq=seq, uuid=uuid, hlc=hlc, identity_fits=fits
                    )
                    if scan is not None:
                        batch.add_scan(seq, *scan, created_at)
                        results.append(Recorded(command, scan[0].op))
                        seq += 1
                        continue
                    live: list[Entry] = []
                else:
                    batch.flush(conn)
                    live = carts.live_entries(conn, cart_id)
                try:
                    intent = plan(command, live)
                except Refused as refusal:
                    results.append(Recorded(command, None, refusal))
                    continue
                row = build_row(intent, device=device, epoch=epoch, seq=seq, uuid=uuid, hlc=hlc, identity_fits=fits)
                batch.add(seq, row, created_at)
                results.append(Recorded(command, row.op))
                seq += 1
            batch.flush(conn)
            if batch.adds:  # written with their entries: no restart may take them for held ones
                held.write_mark(conn, seq - 1)
                filing = True
            # The HLC and the seq are not written here: the newest outbox row holds both (a confirm keeps it as
            # the high-water row, an erasure writes them to meta first: store/outbox.py): a page less per op.
            if meta:
                conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
        self._seq_issued = seq - 1  # only once committed: a rolled-back group leaves no gap in the seqs
        held.hold(batch.held)
        known.update(c.cart_id for c in commands)  # each one's carts row was written, refused or not
        if filing:
            held.filed_all(self._seq_issued)
        self._recorded()
        return results

    def merge_snapshot(
        self,
        cart_id: str,
        version: int,
        entries: Iterable[Entry],
        tombstones: Iterable[str],
        attrs: Iterable[AttrWrite],
        hlc_max: int,
        seal: Seal | None = None,
    ) -> bool:
        """Union a platform snapshot into a local cart. Returns False for unknown carts or stale versions.

        Its tombstones are removals the platform applied: they are collected here, with their entries, rather
        than stored (CartReplica.merge_snapshot, then collect: docs/cart-rule.md, Collection).

        Committed without an fsync of its own (bookkeeping durability): the snapshot is the platform's state, which
        it keeps retained and sends again in answer to the sync request after every connect. A power cut can only
        take the newest commits, in order, so a lost merge leaves the cart as it was before it (snapshot version,
        tombstones and the HLC mark included: a valid earlier state) and the next delivery merges it again. Any op
        recorded after the merge syncs the WAL, merge included, so no durable op ever outruns the HLC it observed."""
        with self._bookkeeping():
            row = self.conn.execute("SELECT snapshot_version FROM carts WHERE cart_id = ?", (cart_id,)).fetchone()
            if row is None or version <= row[0]:
                return False
            # A snapshot may list this cart's held entries: filed first, so none is both held and in cart_entries,
            # and collection sees every entry. Those confirmed since the last write were filed as they settled.
            file_held = any(not self._is_settled(s) for s in self._held.by_cart.get(cart_id, ()))
            if file_held:
                self._held.file_all(self.conn, self._seq_issued)
            carts.apply_effects(self.conn, (Effects(cart_id, tuple(entries), attrs=tuple(attrs)),))
            carts.collect_confirmed(self.conn, cart_id, tombstones)
            if seal is not None:
                carts.record_seal(self.conn, cart_id, seal)
            self.conn.execute("UPDATE carts SET snapshot_version = ? WHERE cart_id = ?", (version, cart_id))
            if self.clock.observe_remote(hlc_max):  # a value too far ahead is never adopted nor persisted
                self.conn.execute("UPDATE meta SET value = ? WHERE key = 'hlc'", (str(self.clock.last),))
        if file_held:
            self._held.filed_all(self._seq_issued)
        return True

    # --- internals ---------------------------------------------------------------------------------------
    def _ensure_cart(self, cart_id: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO carts (cart_id, opened_at) VALUES (?, ?)", (cart_id, self._now()))


def _stored_clock(text: str, wall_ms: int, max_ahead_ms: int) -> int:
    """The persisted clock, or 0 (the wall clock takes over) when a message had pushed it out of bounds."""
    try:
        stored = int(text)
    except ValueError:
        stored = -1
    problem = stored_clock_problem(stored, wall_ms, max_ahead_ms)
    if problem is None:
        return stored
    log.warning("clock: %s; reset to the wall clock (a message from the broker had pushed it)", problem)
    return 0
