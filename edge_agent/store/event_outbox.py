"""The workflow events' outbox: CloudEvent rows queued for the broker, deleted once it PUBACKed them.

At least once to the broker (sync/events.py): a row leaves the file only after its PUBACK. The delete is deferred
as the op outbox's confirm is (store/outbox.py): ``drop_events`` marks the rows gone in memory (no reader of this
store sees them again) and the next write transaction of any kind deletes them first, or the pump's tick
(``settle_confirms``) when nothing is written. A scan's event row was a write transaction of its own on every
PUBACK; now its delete rides in the next scan's. A crash before then loses nothing: the row is sent again after the
restart, as any row not yet PUBACKed is, and consumers dedupe by the CloudEvent ``id``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager

from edge_agent.const import EVENT_OUTBOX_MAX


class EventOutboxPort:
    """Mixed into DeviceStore, which owns the connection and the transactions (whose start calls
    :meth:`_settle_event_acks`)."""

    conn: sqlite3.Connection

    def _init_event_outbox(self) -> None:
        self._events_acked: set[int] = set()
        """Rows PUBACKed but not deleted yet: every reader skips them; the next write transaction deletes them."""

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _bookkeeping(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def queue_events(
        self, events: Sequence[tuple[str, str]], *, profile_cart: str | None = None, synced: bool = True
    ) -> list[int]:
        """(name, CloudEvent JSON) rows, durable; the oldest go first once the queue holds EVENT_OUTBOX_MAX.
        Returns the rows' ids, in order. ``profile_cart``: the identified session's profile cart, so that its
        erasure drops them (never sent). ``synced=False``: committed without an fsync of its own (a process crash
        loses nothing; a power cut may lose the rows since the last FULL commit), for events that follow an op commit
        on the hot path."""
        ids = []
        with self._write() if synced else self._bookkeeping():
            now = time.time()
            for name, body in events:
                cur = self.conn.execute(
                    "INSERT INTO event_outbox (name, body, created_at, profile_cart) VALUES (?, ?, ?, ?)",
                    (name, body, now, profile_cart),
                )
                ids.append(int(cur.lastrowid or 0))
            self.conn.execute(
                "DELETE FROM event_outbox WHERE id <= (SELECT max(id) FROM event_outbox) - ?", (EVENT_OUTBOX_MAX,)
            )
        return ids

    def pending_events(self, limit: int, after_id: int = 0) -> list[tuple[int, str]]:
        """The oldest rows after ``after_id`` not yet PUBACKed, at most ``limit``."""
        acked = self._events_acked
        rows = self.conn.execute(
            "SELECT id, body FROM event_outbox WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit + len(acked))
        )
        return [row for row in rows if row[0] not in acked][:limit]

    def event_backlog(self) -> int:
        """Workflow events waiting for the uplink (the health message's figure)."""
        row = self.conn.execute(
            "SELECT count(*) FROM event_outbox WHERE id NOT IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(self._events_acked)),),
        ).fetchone()
        return int(row[0])

    def drop_events(self, ids: Sequence[int]) -> None:
        """The broker PUBACKed these rows: gone for every reader now, deleted by the next write transaction."""
        self._events_acked.update(ids)

    def _settle_event_acks(self, conn: sqlite3.Connection) -> frozenset[int] | None:
        """At the start of every write transaction: the deletes ``drop_events`` deferred. Returns what it deleted,
        for :meth:`_event_acks_settled` once that transaction commits (a rolled-back one leaves them pending)."""
        if not self._events_acked:
            return None
        acked = frozenset(self._events_acked)
        conn.executemany("DELETE FROM event_outbox WHERE id = ?", [(i,) for i in acked])
        return acked

    def _event_acks_settled(self, acked: frozenset[int] | None) -> None:
        if acked:
            self._events_acked -= acked
