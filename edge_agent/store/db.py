"""Opening the database: PRAGMAs asserted at startup, named schema migrations on plain sqlite3.

WAL + synchronous=FULL: a commit in WAL mode with NORMAL "might roll back following a power loss"; FULL syncs
the WAL at every commit, and an op counts as saved only once committed (sync note §6).
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from edge_agent.const import SQLITE_BUSY_TIMEOUT_MS, SQLITE_JOURNAL_SIZE_LIMIT, SQLITE_WAL_AUTOCHECKPOINT_PAGES
from edge_agent.domain.const import EPOCH_BITS

log = logging.getLogger(__name__)

REQUIRED_PRAGMAS: dict[str, object] = {
    "journal_mode": "wal",
    "synchronous": 2,  # FULL
    "foreign_keys": 1,
    "secure_delete": 2,  # FAST
    "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
}


class StorageError(RuntimeError):
    """The database cannot be used safely; the agent refuses to run rather than risk a basket."""


def connect(path: Path | str, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode: every transaction is an explicit BEGIN IMMEDIATE ... COMMIT."""
    if read_only:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        return conn
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    # Deleted rows (purged or erased carts) are zeroed in their pages instead of lingering in the file;
    # FAST does it without extra I/O, so the outbox's constant deletes cost nothing more.
    conn.execute("PRAGMA secure_delete=FAST")
    conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    conn.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
    conn.execute(f"PRAGMA journal_size_limit={SQLITE_JOURNAL_SIZE_LIMIT}")
    assert_pragmas(conn)
    return conn


def assert_pragmas(conn: sqlite3.Connection) -> None:
    """Fail fast: a filesystem that cannot do WAL (some network mounts) must not silently lose durability."""
    for name, expected in REQUIRED_PRAGMAS.items():
        actual = conn.execute(f"PRAGMA {name}").fetchone()[0]
        if str(actual).lower() != str(expected).lower():
            raise StorageError(f"PRAGMA {name} is {actual!r}, expected {expected!r}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE takes the write lock up front, so lock upgrades never fail with SQLITE_BUSY."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def bookkeeping_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A transaction whose loss on power failure is harmless, committed without an fsync of its own.

    For the outbox's lease/sent/confirm states (reset to pending at startup anyway: the worst case is a
    resend) and diagnostics. The next FULL commit syncs the WAL including these frames. Ops themselves
    are always recorded with ``transaction`` at synchronous=FULL.
    """
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        with transaction(conn):
            yield conn
    finally:
        conn.execute("PRAGMA synchronous=FULL")


Migration = Callable[[sqlite3.Connection], None]
"""One schema step on the connection, inside the transaction ``migrate`` opened for it."""

MIGRATIONS_TABLE_SQL = "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
"""The table sqlite-utils created (``[name] TEXT PRIMARY KEY, [applied_at] TEXT``): databases made before the
agent dropped sqlite-utils keep theirs and never re-run a migration, because the names are unchanged."""


def migrate(conn: sqlite3.Connection, migrations: list[tuple[str, Migration]]) -> list[str]:
    """Apply named migrations once each, in order, each in its own transaction; returns those applied."""
    conn.execute(MIGRATIONS_TABLE_SQL)
    done = {name for (name,) in conn.execute("SELECT name FROM _migrations")}
    applied = []
    for name, step in migrations:
        if name in done:
            continue
        with transaction(conn):
            step(conn)
            conn.execute("INSERT INTO _migrations(name, applied_at) VALUES (?, datetime('now'))", (name,))
        applied.append(name)
        log.info("applied migration %s", name)
    return applied


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the file has this table yet (another process may read it before the agent's migrations ran)."""
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
    return found is not None


def quick_check(conn: sqlite3.Connection) -> None:
    """Run after an unclean shutdown; a corrupt file is quarantined by the caller, never deleted."""
    result = conn.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise StorageError(f"database failed quick_check: {result}")


def new_epoch() -> str:
    return secrets.randbits(EPOCH_BITS).to_bytes(EPOCH_BITS // 8, "big").hex()
