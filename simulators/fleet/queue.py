"""The simulated devices' durable local queue: one SQLite file per fleet process, a device column per row.

One file and group commit keep hundreds of devices light: an op is committed before it may be sent, and deleted
only when the platform's applied watermark covers it (the agent's outbox rule, sync note §1). synchronous=NORMAL
in WAL mode survives a kill of the fleet process, which is all a simulator needs (the agent itself uses FULL).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, epoch TEXT NOT NULL, seq_issued INTEGER NOT NULL)"
    " WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS outbox (device TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,"
    " created_at REAL NOT NULL, PRIMARY KEY (device, seq)) WITHOUT ROWID",
)


@dataclass(frozen=True, slots=True)
class QueuedOp:
    seq: int
    body: str
    created_at: float


class DurableQueue:
    """Appends and deletes are buffered by the caller's tick and written in one transaction each (group commit)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        for statement in SCHEMA:
            self._conn.execute(statement)

    def identity(self, device: str, new_epoch: str) -> tuple[str, int]:
        """The device's epoch and the last seq it issued: the stored ones, else ``new_epoch`` and 0 (stored now)."""
        self._conn.execute("INSERT OR IGNORE INTO devices VALUES (?, ?, 0)", (device, new_epoch))
        row = self._conn.execute("SELECT epoch, seq_issued FROM devices WHERE device = ?", (device,)).fetchone()
        return str(row[0]), int(row[1])

    def pending(self, device: str) -> list[QueuedOp]:
        """What a restarted fleet must still send, in seq order."""
        rows = self._conn.execute(
            "SELECT seq, body, created_at FROM outbox WHERE device = ? ORDER BY seq", (device,)
        ).fetchall()
        return [QueuedOp(int(seq), str(body), float(at)) for seq, body, at in rows]

    def append(self, rows: list[tuple[str, int, str, float]]) -> None:
        """(device, seq, body, created_at), committed before any of them is published, with each device's seq
        high-water mark (a seq is never issued twice, even after its row was deleted)."""
        issued: dict[str, int] = {}
        for device, seq, _body, _at in rows:
            issued[device] = max(seq, issued.get(device, 0))
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("INSERT INTO outbox VALUES (?, ?, ?, ?)", rows)
            self._conn.executemany(
                "UPDATE devices SET seq_issued = max(seq_issued, ?) WHERE device = ?",
                [(seq, device) for device, seq in issued.items()],
            )

    def delete(self, keys: Iterable[tuple[str, int]]) -> None:
        """(device, seq) of ops the platform's watermark covers."""
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("DELETE FROM outbox WHERE device = ? AND seq = ?", keys)

    def total(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        self._conn.close()
