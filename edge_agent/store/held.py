"""Own scans' cart entries held in their outbox rows until the platform confirms them (issue 14, bytes per op).

A plain scan (an AddItem without a serial) writes one outbox row, durably, and its cart entry is a function of that
row's body (``effects_of``). Writing the entry to ``cart_entries`` too cost a second b-tree page (and its leaf
rebalancing) in every lone commit. So while an op is unconfirmed its entry is held here, in memory, and the file
keeps it in the outbox row only; it is *filed* into ``cart_entries``:

- when the platform's watermark confirms the op, in the transaction that deletes its row (store/outbox.py's
  deferred delete, which dirties that outbox page anyway);
- all at once (``file_all``), before anything reads or changes cart entries in SQL other than a plain scan: a
  command that observes its cart (remove, set quantity, clear, checkout, a serialised add), a snapshot merge of a
  cart holding any, or when more than ``HELD_ENTRIES_MAX`` are held;
- at a clean stop (``DeviceStore.file_held``): an earlier release, which knows no held entries, then reads every
  line from ``cart_entries`` after a fleet rollback. (After a kill instead, it misses the unconfirmed scans' lines
  until the platform's snapshot brings them back; their ops are in the outbox either way and are sent.)

The file says which rows are held: every ``entry.add`` row above meta's ``ENTRIES_FILED_KEY`` (the mark ``file_all``
writes, with every entry it files) and only those. A row at or below the mark has its entry in ``cart_entries``, or
had it there until collection or erasure removed it, so a restart never brings back a collected entry; an
``entry.add`` row above the mark was written by a plain scan that held its entry, so ``load`` rebuilds exactly what
was held (kill -9 and power loss included: the rows are FULL commits, and a lost ``file_all`` lost its mark with it).
Readers union the held entries with ``cart_entries`` (``DeviceStore.live_entries``, store/readonly.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from edge_agent.const import HELD_ENTRIES_MAX
from edge_agent.domain.cart import Entry
from edge_agent.domain.ops import OpKind
from edge_agent.store import carts
from edge_agent.store.db import has_table

__all__ = ["ENTRIES_FILED_KEY", "HeldEntries", "held_in_file", "with_held"]

ENTRIES_FILED_KEY = "entries.filed"
"""The meta row: every op up to this seq has its entry in cart_entries (or had it, until collected or erased)."""
_ADD = OpKind.ADD.value
_IDS_PER_QUERY = 400
"""Entry ids per lookup: two lists of them per statement stay far below SQLite's 32,766 bound on parameters."""


def _entry(body: str) -> Entry:
    op = json.loads(body)
    return Entry(op["op_id"], op["cart_id"], op["sku"], op["qty"], op["hlc"], op["device"], op.get("serial"))


def filed_mark(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (ENTRIES_FILED_KEY,)).fetchone()
    return None if row is None else int(row[0])


def held_in_file(conn: sqlite3.Connection, cart_id: str | None = None) -> list[Entry]:
    """The held entries as the file says (another process: `basket show`), of one cart or all; none on a database
    without the mark (the platform's, or a device's an earlier agent wrote, which filed every entry)."""
    mark = filed_mark(conn) if has_table(conn, "outbox") else None
    if mark is None:
        return []
    sql = "SELECT seq, body FROM outbox WHERE seq > ? AND kind = ?" + ("" if cart_id is None else " AND cart_id = ?")
    args: tuple[object, ...] = (mark, _ADD) if cart_id is None else (mark, _ADD, cart_id)
    return [entry for _, entry in _unfiled(conn, conn.execute(sql, args))]


def _unfiled(conn: sqlite3.Connection, rows: Iterable[tuple[int, str]]) -> list[tuple[int, Entry]]:
    """The rows' entries that are neither in cart_entries nor tombstoned. Always true of rows this agent wrote above
    the mark; not of rows an earlier agent wrote after opening this file (it files every entry and knows no mark):
    after a rollback and a return, those are filed already, or removed, and must not come back as held."""
    found = [(int(seq), _entry(body)) for seq, body in rows]
    if not found:
        return []
    ids = [entry.entry_id for _, entry in found]
    known: set[str] = set()
    for first in range(0, len(ids), _IDS_PER_QUERY):
        chunk = ids[first : first + _IDS_PER_QUERY]
        marks = ",".join("?" * len(chunk))
        known.update(
            str(entry_id)
            for (entry_id,) in conn.execute(
                f"SELECT entry_id FROM cart_entries WHERE entry_id IN ({marks}) "
                f"UNION SELECT entry_id FROM cart_tombstones WHERE entry_id IN ({marks})",
                chunk + chunk,
            )
        )
    return [(seq, entry) for seq, entry in found if entry.entry_id not in known]


def with_held(filed: list[Entry], held: list[Entry]) -> list[Entry]:
    """A cart's live entries: cart_entries' (ordered by carts.live_entries) and its held ones, in that same order."""
    return sorted(filed + held, key=lambda e: (e.hlc, e.entry_id)) if held else filed


class HeldEntries:
    """The held entries of one DeviceStore, by seq and by cart. Changed only once the transaction that wrote their
    rows (or filed them) committed: the caller says so (``hold``, ``forget``, ``filed_all``)."""

    def __init__(self, filed_upto: int, *, persisted: bool) -> None:
        self.by_seq: dict[int, Entry] = {}
        self.by_cart: dict[str, dict[int, Entry]] = {}
        self.filed_upto = filed_upto
        self.persisted = persisted
        """The mark is in the file: until it is, nothing may be held (a restart would not know it was)."""

    @classmethod
    def load(cls, conn: sqlite3.Connection, newest_seq: int) -> HeldEntries:
        """At open: the held entries the outbox rows above the mark describe. Without a mark (a new database, or
        one an earlier agent wrote) every entry is filed up to ``newest_seq``; the caller persists that mark."""
        mark = filed_mark(conn)
        held = cls(newest_seq if mark is None else mark, persisted=mark is not None)
        if mark is not None:
            rows = conn.execute("SELECT seq, body FROM outbox WHERE seq > ? AND kind = ?", (mark, _ADD))
            held.hold(_unfiled(conn, rows))
        return held

    def mark_meta(self) -> tuple[str, str]:
        return ENTRIES_FILED_KEY, str(self.filed_upto)

    def can_hold(self, n: int) -> bool:
        return self.persisted and len(self.by_seq) + n <= HELD_ENTRIES_MAX

    def of_cart(self, cart_id: str) -> list[Entry]:
        held = self.by_cart.get(cart_id)
        return list(held.values()) if held else []

    def hold(self, entries: Iterable[tuple[int, Entry]]) -> None:
        for seq, entry in entries:
            self.by_seq[seq] = entry
            self.by_cart.setdefault(entry.cart_id, {})[seq] = entry

    def file_all(self, conn: sqlite3.Connection, upto: int) -> None:
        """In the caller's transaction: every held entry into cart_entries, and the mark ``upto`` (at least the
        newest seq issued); ``filed_all(upto)`` once it committed."""
        if self.by_seq:
            carts.insert_entries(conn, self.by_seq.values())
        self.write_mark(conn, upto)

    def write_mark(self, conn: sqlite3.Connection, upto: int) -> None:
        """In the caller's transaction: every entry.add row up to ``upto`` has its entry in cart_entries."""
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (ENTRIES_FILED_KEY, str(upto)))

    def filed_all(self, upto: int) -> None:
        self.by_seq.clear()
        self.by_cart.clear()
        self.filed_upto = max(self.filed_upto, upto)
        self.persisted = True

    def file_confirmed(self, conn: sqlite3.Connection, upto: int, above: frozenset[int]) -> list[int]:
        """In the transaction that deletes the confirmed rows: their entries into cart_entries. Returns their
        seqs, to ``forget`` once it committed."""
        seqs = [seq for seq in self.by_seq if seq <= upto or seq in above]
        if seqs:
            carts.insert_entries(conn, (self.by_seq[seq] for seq in seqs))
        return seqs

    def forget(self, seqs: Iterable[int]) -> None:
        """Filed with their confirmation, or erased with their rows."""
        for seq in seqs:
            entry = self.by_seq.pop(seq, None)
            if entry is not None:
                cart = self.by_cart[entry.cart_id]
                del cart[seq]
                if not cart:
                    del self.by_cart[entry.cart_id]

    def drop_cart(self, cart_id: str) -> None:
        self.forget(list(self.by_cart.get(cart_id, ())))
