"""The outbox port: the five lease-then-ack methods ``lease``, ``mark_sent``, ``release``, ``confirm``, ``expire_sent``.

A row is appended by DeviceStore.record (synchronous=FULL, with the cart change it records) and deleted only when
the platform's applied watermark covers it (sync note §1). Its states (pending, leased, sent) are bookkeeping:
written without an fsync of their own, and all reset to pending at startup, so losing them resends at worst.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from edge_agent.store.faults import tolerates_full

__all__ = ["NOTHING_LEASED", "OutboxPort", "OutboxRow", "OutboxStats", "read_outbox_stats"]


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
    """Mixed into DeviceStore, which owns the connection and the bookkeeping transaction."""

    conn: sqlite3.Connection
    epoch: str
    _now: Callable[[], float]
    _lease_after: int
    """Every row above this seq is pending: the highest seq leased since rows last went back to pending."""

    def _bookkeeping(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    @tolerates_full(NOTHING_LEASED)
    def lease(self, limit: int, max_bytes: int) -> Sequence[OutboxRow]:
        """Take the oldest pending rows (ORDER BY seq) and mark them leased, so no later lease sees them.
        On a full disk nothing is leased (rows handed out unmarked would be leased again at once).

        The search starts after the last row leased, so it never walks the rows out on the wire (no index
        of every row's state is kept: store/schema.py ``_outbox_unsettled``); anything that puts rows back
        to pending starts it again from the first row."""
        with self._bookkeeping():
            rows: list[OutboxRow] = []
            size = 0
            for seq, body, created_at in self.conn.execute(
                "SELECT seq, body, created_at FROM outbox WHERE seq > ? AND state = 'pending' ORDER BY seq LIMIT ?",
                (self._lease_after, limit),
            ):
                if rows and size + len(body) > max_bytes:
                    break
                rows.append(OutboxRow(seq, body, created_at))
                size += len(body) + 1
            if rows:
                self._set_state([r.seq for r in rows], "leased", "state = 'pending'")
        if rows:
            self._lease_after = rows[-1].seq
        return rows

    @tolerates_full(None)
    def mark_sent(self, seqs: Sequence[int]) -> None:
        """The broker PUBACKed: one hop done, nothing more. The rows stay until the platform confirms."""
        with self._bookkeeping():
            self.conn.execute(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_sent_at = ? "
                "WHERE state = 'leased' AND seq IN (SELECT value FROM json_each(?))",
                (self._now(), json.dumps(list(seqs))),
            )

    @tolerates_full(None)
    def release(self, seqs: Sequence[int] | None = None) -> None:
        """Back to pending: a failed PUBACK, a disconnect (seqs=None releases every unconfirmed row)."""
        self._lease_after = 0  # before the write: a failed one may still have put rows back
        with self._bookkeeping():
            if seqs is None:
                self.conn.execute("UPDATE outbox SET state = 'pending' WHERE state != 'pending'")
            else:
                self._set_state(seqs, "pending", "state != 'pending'")

    @tolerates_full(0)
    def confirm(self, epoch: str, applied_upto: int, applied_above: Sequence[int] = ()) -> int:
        """Delete the rows the platform says it applied; returns how many. Other epochs are not ours."""
        if epoch != self.epoch:
            return 0
        with self._bookkeeping():
            cur = self.conn.execute("DELETE FROM outbox WHERE seq <= ?", (applied_upto,))
            deleted = cur.rowcount
            if applied_above:
                cur = self.conn.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?))",
                    (json.dumps(list(applied_above)),),
                )
                deleted += cur.rowcount
        return deleted

    @tolerates_full(0)
    def expire_sent(self, sent_before: float) -> int:
        """T_ack: a sent row still unconfirmed after the ack timeout goes back to pending."""
        with self._bookkeeping():
            cur = self.conn.execute(  # "state != 'pending'" lets SQLite use the partial index outbox_unsettled
                "UPDATE outbox SET state = 'pending' WHERE state != 'pending' AND state = 'sent' AND last_sent_at < ?",
                (sent_before,),
            )
        if cur.rowcount:
            self._lease_after = 0
        return cur.rowcount

    def outbox_stats(self) -> OutboxStats:
        return read_outbox_stats(self.conn)

    def pending_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0])

    def _set_state(self, seqs: Sequence[int], state: str, guard: str) -> None:
        self.conn.execute(
            f"UPDATE outbox SET state = ? WHERE {guard} AND seq IN (SELECT value FROM json_each(?))",
            (state, json.dumps(list(seqs))),
        )


def read_outbox_stats(conn: sqlite3.Connection) -> OutboxStats:
    pending, sent, total, oldest = conn.execute(
        "SELECT count(*) FILTER (WHERE state != 'sent'), count(*) FILTER (WHERE state = 'sent'), count(*), "
        "min(created_at) FROM outbox"
    ).fetchone()
    return OutboxStats(pending, sent, total, oldest)
