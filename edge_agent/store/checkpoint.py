"""WAL checkpoints on their own thread and connection, so no commit on the loop ever runs one.

With ``wal_autocheckpoint`` on, the commit that crosses the threshold copies the whole WAL into the database and
fsyncs it (synchronous=FULL) before returning: a stall of tens to hundreds of milliseconds on whichever scan
was being saved (docs/benchmarks.md, latency). The agent turns that off on its write connection while this
thread runs: PASSIVE checkpoints every tick (they never take the write lock, so writers carry on appending),
and TRUNCATE once the device has been idle, so the WAL file does not stay large on the card.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

from edge_agent.const import (
    CHECKPOINT_BUSY_TIMEOUT_MS,
    CHECKPOINT_IDLE_S,
    CHECKPOINT_INTERVAL_S,
    CHECKPOINT_JOIN_S,
    SQLITE_JOURNAL_SIZE_LIMIT,
)

log = logging.getLogger(__name__)


@dataclass
class CheckpointCounters:
    passive: int = 0
    truncated: int = 0
    busy: int = 0
    """Checkpoints that could not finish (a reader held an old snapshot, or the writer the lock)."""
    failed: int = 0


@dataclass
class Checkpointer:
    """Started and stopped by the agent's lifecycle (never in a constructor: the thread and connection are I/O)."""

    path: Path
    interval_s: float = CHECKPOINT_INTERVAL_S
    idle_s: float = CHECKPOINT_IDLE_S
    counters: CheckpointCounters = field(default_factory=CheckpointCounters)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(CHECKPOINT_JOIN_S)
            self._thread = None

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:  # the agent's own connection opened this file; report, never raise
            log.error("checkpoint thread cannot open %s: %s", self.path, exc)
            return
        try:
            conn.execute(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_TIMEOUT_MS}")
            conn.execute(f"PRAGMA journal_size_limit={SQLITE_JOURNAL_SIZE_LIMIT}")
            last_version, idle_for, truncated = None, 0.0, False
            while not self._stop.wait(self.interval_s):
                # data_version changes when another connection committed: the cheap test for "was it busy".
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if version != last_version:
                    last_version, idle_for, truncated = version, 0.0, False
                    self._checkpoint(conn, "PASSIVE")
                else:
                    idle_for += self.interval_s
                    if idle_for >= self.idle_s and not truncated:
                        truncated = self._checkpoint(conn, "TRUNCATE")
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection, mode: str) -> bool:
        """One checkpoint; True when it copied every frame (and, for TRUNCATE, emptied the WAL file)."""
        try:
            busy, log_frames, done = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.Error as exc:
            self.counters.failed += 1
            log.warning("wal checkpoint (%s) failed: %s", mode, exc)
            return False
        if busy or done < log_frames:
            self.counters.busy += 1
            return False
        if mode == "TRUNCATE":
            self.counters.truncated += 1
        else:
            self.counters.passive += 1
        return True
