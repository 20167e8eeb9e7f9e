"""The outbox port: the five lease-then-ack methods ``lease``, ``mark_sent``, ``release``, ``confirm``, ``expire_sent``.

A row is appended by DeviceStore.record (synchronous=FULL, with the cart change it records) and deleted only when
the platform's applied watermark covers it (sync note §1). That is all the file holds of it. Its states (pending,
leased, sent) are kept in memory: they were reset to pending at every start anyway (everything unconfirmed is
sent again after a restart), so writing them cost two pages per op per step and saved nothing (issue 14, write
amplification). ``lease`` and ``mark_sent`` write nothing; ``confirm`` deletes a range.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from edge_agent.domain.hlc import HybridClock
from edge_agent.store.faults import StorageFaults, tolerates_full
from edge_agent.store.schema import SEQ_ISSUED_KEY

__all__ = [
    "NOTHING_LEASED",
    "OUTBOX_SENT_KEY",
    "OutboxPort",
    "OutboxRow",
    "OutboxStats",
    "newest_hlc",
    "read_outbox_stats",
    "stored_seq",
]

OUTBOX_SENT_KEY = "outbox.sent"
"""The meta row where the status write (every heartbeat) leaves how many rows were sent and await confirmation,
for ``edge-agent status`` in another process: the states themselves live in the agent's memory only."""
CONFIRMED_KIND = "confirmed"
"""The kind of the high-water row: when a confirm covers the newest op, that row is not deleted but emptied (no
cart, no body) and kept, so the seq and HLC it holds stay in the file without a write to meta's page. Every
reader of the outbox skips it; the next confirm that covers a newer op deletes it."""
_LIVE = f"kind != '{CONFIRMED_KIND}'"
HEAP_SLACK = 1024
"""The heap of seqs out on the wire is rebuilt once it holds this many more entries than there are such rows
(released rows leave their entries behind until a confirm pops them)."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    body: str
    created_at: float


NOTHING_LEASED: Sequence[OutboxRow] = ()


@dataclass(frozen=True, slots=True)
class OutboxStats:
    pending: int
    sent: int
    total: int
    oldest_created_at: float | None


class OutboxPort:
    """Mixed into DeviceStore, which owns the connection, the bookkeeping transaction and the seq counters."""

    conn: sqlite3.Connection
    epoch: str
    clock: HybridClock
    faults: StorageFaults
    _now: Callable[[], float]
    _seq_issued: int
    """The highest seq this database ever gave an op."""
    _seq_persisted: int
    """The high-water mark meta holds; the newest outbox row holds the rest (DeviceStore.open reads both)."""

    def _init_outbox_state(self) -> None:
        self._out: dict[int, float | None] = {}
        """Rows out on the wire: seq -> None while leased, the wall time of its PUBACK once sent."""
        self._out_heap: list[int] = []
        """The seqs of ``_out`` (and of rows released since), smallest first, for confirm's range."""
        self._sent = 0
        self._lease_after = 0
        """No pending row has a seq at or below this: the search of the next lease starts after it."""
        self._confirmed_upto = 0
        self._confirmed_above: set[int] = set()
        """Confirmed (every seq up to, and these above) but not deleted yet: ``confirm`` defers the delete."""
        self._drained = False
        """The last lease read to the end of the outbox: no row is pending until an op is recorded (``_recorded``),
        or rows are released or expire. A lease meanwhile returns nothing without a query (the pump leases again
        right after every batch it sends, to fill its window)."""

    def _bookkeeping(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def lease(self, limit: int, max_bytes: int) -> Sequence[OutboxRow]:
        """Take the oldest pending rows (by seq) and hold them as leased, so no later lease sees them. Nothing is
        written: a lease lost in a crash is a row sent again, as after any restart."""
        out, size, last = self._out, 0, self._lease_after
        rows: list[OutboxRow] = []
        if limit <= 0:
            return NOTHING_LEASED
        if self._drained:
            return rows
        drained = True
        with self.faults.guard(self.conn, contextlib.nullcontext(self.conn)):
            cur = self.conn.execute(
                f"SELECT seq, body, created_at FROM outbox WHERE seq > ? AND {_LIVE} ORDER BY seq",
                (max(self._lease_after, self._confirmed_upto),),
            )
            try:
                for seq, body, created_at in cur:
                    if seq in out or seq in self._confirmed_above:
                        last = seq
                        continue
                    if rows and size + len(body) > max_bytes:
                        drained = False
                        break
                    rows.append(OutboxRow(seq, body, created_at))
                    size += len(body) + 1
                    last = seq
                    if len(rows) >= limit:
                        drained = False
                        break
            finally:
                cur.close()  # a statement left open would hold a read snapshot and stall the checkpoints
        for row in rows:
            out[row.seq] = None
            heapq.heappush(self._out_heap, row.seq)
        self._lease_after = last
        self._drained = drained
        return rows

    def _recorded(self) -> None:
        """An op was committed: a row is pending again."""
        self._drained = False

    def mark_sent(self, seqs: Sequence[int]) -> None:
        """The broker PUBACKed: one hop done, nothing more. The rows stay until the platform confirms."""
        now, out = self._now(), self._out
        for seq in seqs:
            if seq in out and out[seq] is None:
                out[seq] = now
                self._sent += 1

    def release(self, seqs: Sequence[int] | None = None) -> None:
        """Back to pending: a failed PUBACK, a disconnect (seqs=None releases every unconfirmed row)."""
        self._drained = False
        if seqs is None:
            self._out.clear()
            self._out_heap.clear()
            self._sent = 0
            self._lease_after = 0
            return
        for seq in seqs:
            self._forget(seq)
        if seqs:
            self._lease_after = min(self._lease_after, min(seqs) - 1)

    def confirm(self, epoch: str, applied_upto: int, applied_above: Sequence[int] = ()) -> int:
        """The platform applied these rows: from now on they are gone for every reader of this store, and the
        next write transaction deletes them (``_settle_confirms``), or the pump's tick (``settle_confirms``).
        Returns how many ops it confirmed. Other epochs are not ours.

        Deferred so that the delete shares the page the next op's insert writes anyway (the outbox's right-most
        leaf): one page per op less in a burst (issue 14, bytes per op). A crash before then loses nothing: those
        rows are sent again after the restart, as every unconfirmed row is, and the platform drops duplicates."""
        if epoch != self.epoch:
            return 0
        above = [seq for seq in applied_above if seq > applied_upto]
        if above or self._confirmed_above:
            gone, gone_args = self._settled_sql()
            count = self.conn.execute(
                f"SELECT count(*) FROM outbox WHERE {_LIVE} AND NOT ({gone}) "
                "AND (seq <= ? OR seq IN (SELECT value FROM json_each(?)))",
                (*gone_args, applied_upto, json.dumps(above)),
            ).fetchone()[0]
        elif applied_upto > self._confirmed_upto:  # the usual watermark: a range of the primary key, no JSON
            count = self.conn.execute(
                f"SELECT count(*) FROM outbox WHERE seq > ? AND seq <= ? AND {_LIVE}",
                (self._confirmed_upto, applied_upto),
            ).fetchone()[0]
        else:  # covers nothing newer than what was confirmed already
            count = 0
        self._confirmed_upto = max(self._confirmed_upto, applied_upto)
        self._confirmed_above = {s for s in self._confirmed_above.union(above) if s > self._confirmed_upto}
        heap = self._out_heap
        while heap and heap[0] <= applied_upto:
            self._forget(heapq.heappop(heap))
        for seq in applied_above:
            self._forget(seq)
        if len(heap) > 2 * len(self._out) + HEAP_SLACK:
            self._out_heap = sorted(self._out)  # a sorted list is a heap
        return int(count)

    @tolerates_full(None)
    def settle_confirms(self) -> None:
        """Delete what was confirmed since the last write (the pump's tick), so the file, which ``edge-agent
        status`` and the budget read, holds confirmed rows for at most a tick (and PUBACKed event rows: the store's
        ``_deletes_deferred``)."""
        if self._deletes_deferred():
            with self._bookkeeping():
                pass  # _bookkeeping settles them

    def _deletes_deferred(self) -> bool:
        """Rows marked gone in memory that the next write transaction deletes."""
        return bool(self._confirmed_upto or self._confirmed_above)

    def _settle_confirms(self, conn: sqlite3.Connection) -> tuple[int, frozenset[int]] | None:
        """At the start of every write transaction: the deletes confirm deferred. Returns what it settled, for
        ``_confirms_settled`` once that transaction commits (a rolled-back one leaves them pending)."""
        upto, above = self._confirmed_upto, frozenset(self._confirmed_above)
        if not upto and not above:
            return None
        newest = conn.execute("SELECT seq, kind FROM outbox ORDER BY seq DESC LIMIT 1").fetchone()
        keep, to_mark = -1, False
        if newest is not None and (newest[0] <= upto or newest[0] in above):
            keep, to_mark = newest[0], newest[1] != CONFIRMED_KIND
        conn.execute("DELETE FROM outbox WHERE seq <= ? AND seq != ?", (upto, keep))
        if above:
            conn.execute(
                "DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?)) AND seq != ?",
                (json.dumps(sorted(above)), keep),
            )
        if to_mark:  # the newest op becomes the high-water row: its seq and HLC stay, on the page just written
            conn.execute("UPDATE outbox SET cart_id = '', kind = ?, body = '' WHERE seq = ?", (CONFIRMED_KIND, keep))
        return upto, above

    def _confirms_settled(self, settled: tuple[int, frozenset[int]] | None) -> None:
        if settled is None:
            return
        upto, above = settled
        if self._confirmed_upto <= upto:
            self._confirmed_upto = 0
        bound = max(upto, self._confirmed_upto)
        self._confirmed_above = {s for s in self._confirmed_above - above if s > bound}

    def _settled_sql(self) -> tuple[str, tuple[object, ...]]:
        """A WHERE condition true of the rows confirmed but not yet deleted, and its arguments."""
        return "seq <= ? OR seq IN (SELECT value FROM json_each(?))", (
            self._confirmed_upto,
            json.dumps(sorted(self._confirmed_above)),
        )

    def _is_settled(self, seq: int) -> bool:
        return seq <= self._confirmed_upto or seq in self._confirmed_above

    def expire_sent(self, sent_before: float) -> int:
        """T_ack: a sent row still unconfirmed after the ack timeout goes back to pending."""
        expired = [seq for seq, sent_at in self._out.items() if sent_at is not None and sent_at < sent_before]
        for seq in expired:
            self._forget(seq)
        if expired:
            self._lease_after = min(self._lease_after, min(expired) - 1)
            self._drained = False
        return len(expired)

    def outbox_stats(self) -> OutboxStats:
        gone, args = self._settled_sql()
        total, oldest = self.conn.execute(
            f"SELECT count(*), min(created_at) FROM outbox WHERE {_LIVE} AND NOT ({gone})", args
        ).fetchone()
        return OutboxStats(total - self._sent, self._sent, total, oldest)

    def outbox_meta(self) -> dict[str, str]:
        """What the status write leaves in meta for ``edge-agent status`` (read_outbox_stats)."""
        return {OUTBOX_SENT_KEY: str(self._sent)}

    def pending_count(self) -> int:
        gone, args = self._settled_sql()
        row = self.conn.execute(f"SELECT count(*) FROM outbox WHERE {_LIVE} AND NOT ({gone})", args).fetchone()
        total = int(row[0])
        return total - len(self._out)

    def _forget(self, seq: int) -> None:
        """Back to pending in memory, or gone: the row is no longer out on the wire."""
        if self._out.pop(seq, None) is not None:
            self._sent -= 1

    def _newest_seq(self) -> int | None:
        row = self.conn.execute("SELECT max(seq) FROM outbox").fetchone()
        return None if row[0] is None else int(row[0])

    def _keep_high_water(self, newest_before: int | None) -> int | None:
        """After deleting outbox rows (an erasure), in the same transaction: if the newest row went, meta takes
        over the high-water marks it held (its seq, and the HLC, which grows with seq), so no seq is ever issued twice
        and the clock never goes back after a restart. Returns the seq written, if any."""
        if newest_before is None or newest_before <= self._seq_persisted or self._newest_seq() == newest_before:
            return None
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            (("hlc", str(self.clock.last)), (SEQ_ISSUED_KEY, str(self._seq_issued))),
        )
        return self._seq_issued


def stored_seq(conn: sqlite3.Connection) -> int:
    """The highest seq ever issued: meta's high-water mark, or the newest outbox row when it is newer."""
    row = conn.execute(
        "SELECT max(coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?), 0), "
        "coalesce((SELECT max(seq) FROM outbox), 0))",
        (SEQ_ISSUED_KEY,),
    ).fetchone()
    return int(row[0])


def newest_hlc(conn: sqlite3.Connection, meta_hlc: str) -> str:
    """meta's HLC, or the newest outbox row's when it is later (each op's HLC is above every earlier one's)."""
    row = conn.execute("SELECT hlc FROM outbox ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None:
        return meta_hlc
    try:
        return str(max(int(meta_hlc), int(row[0])))
    except ValueError:
        return str(row[0])


def read_outbox_stats(conn: sqlite3.Connection) -> OutboxStats:
    """From another process: the rows are in the file; how many are sent is as of the agent's last status write."""
    total, oldest = conn.execute(f"SELECT count(*), min(created_at) FROM outbox WHERE {_LIVE}").fetchone()
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (OUTBOX_SENT_KEY,)).fetchone()
    sent = min(total, int(row[0])) if row and str(row[0]).isdigit() else 0
    return OutboxStats(total - sent, sent, total, oldest)
