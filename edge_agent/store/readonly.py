"""Read-only looks into a database another process is writing (WAL lets readers and one writer coexist).

Used by the CLI (`status`, `basket show`, `catalog lookup`), the demo and the tests; none of them may ever write to
the agent's file, and none of them runs SQL of its own: every read they need is here.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from edge_agent.contract.catalog import LookupResult
from edge_agent.domain.cart import Entry, Line, lines_of, quantities
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.store import carts
from edge_agent.store.db import connect, has_table
from edge_agent.store.held import held_in_file, with_held
from edge_agent.store.lookup import lookup
from edge_agent.store.outbox import OutboxStats, read_outbox_stats, stored_seq


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(connect(path, read_only=True)) as conn:
        yield conn


def initialised(path: Path) -> bool:
    """True once the agent has migrated the file and written its identity (DeviceStore.open does that last): the file
    exists from the first connect, before its tables, and each migration commits on its own."""
    if not path.exists():
        return False
    with read_only(path) as conn:
        if not has_table(conn, "meta"):
            return False
        return conn.execute("SELECT 1 FROM meta WHERE key = 'device_id'").fetchone() is not None


@contextmanager
def one_snapshot(path: Path) -> Iterator[sqlite3.Connection]:
    """A read transaction: every statement sees the same commit. Entries are read from two tables (store/held.py),
    and a confirm between two reads moves them from one to the other."""
    with read_only(path) as conn:
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("ROLLBACK")


def basket_quantities(path: Path, cart_id: str) -> dict[str, int]:
    """sku -> quantity of one cart, as its live entries say (works on device and platform databases)."""
    with one_snapshot(path) as conn:
        return quantities(_live(conn, cart_id))


def _live(conn: sqlite3.Connection, cart_id: str) -> list[Entry]:
    """A cart's live entries: cart_entries' and those the agent holds in their outbox rows (store/held.py)."""
    return with_held(carts.live_entries(conn, cart_id), held_in_file(conn, cart_id))


def outbox_stats(path: Path) -> OutboxStats:
    with read_only(path) as conn:
        return read_outbox_stats(conn)


def ops_created(path: Path) -> int:
    """How many ops this device database has ever allocated (meta's high-water mark or the newest outbox row)."""
    with read_only(path) as conn:
        return stored_seq(conn)


def meta(path: Path) -> dict[str, str]:
    """The agent's metadata rows (status, counters, epoch), as `edge-agent status` shows them."""
    with read_only(path) as conn:
        return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}


def reject_counts(path: Path) -> dict[str, int]:
    """Rejected inputs by reason (the diagnostic ring of the newest rejects)."""
    with read_only(path) as conn:
        return {str(r): int(n) for r, n in conn.execute("SELECT reason, count(*) FROM rejects GROUP BY reason")}


def baskets(path: Path, cart_id: str | None = None) -> dict[str, tuple[list[Line], str | None]]:
    """cart id -> (lines, the order id it was sealed as), for one cart or every cart the device holds."""
    with one_snapshot(path) as conn:
        ids = [cart_id] if cart_id else [r[0] for r in conn.execute("SELECT cart_id FROM carts ORDER BY opened_at")]
        out: dict[str, tuple[list[Line], str | None]] = {}
        for cid in ids:
            seal = carts.seal_of(conn, cid)
            out[cid] = (lines_of(_live(conn, cid)), None if seal is None else seal.order_id)
        return out


def lookup_code(path: Path, key: ProductKey) -> LookupResult:
    """What the device's catalog cache holds for a code (always labelled offline: nothing here is live)."""
    with read_only(path) as conn:
        return lookup(conn, key, online=False)


def entry_ids(path: Path, origin_device: str) -> set[str]:
    """Ids of every cart entry a device created (an entry's id is the id of the op that added it)."""
    with one_snapshot(path) as conn:
        rows = conn.execute("SELECT entry_id FROM cart_entries WHERE origin_device = ?", (origin_device,))
        held = {e.entry_id for e in held_in_file(conn) if e.origin_device == origin_device}
        return {str(r[0]) for r in rows} | held


def quick_check(path: Path, *, timeout_s: float, max_errors: int, progress_ops: int) -> list[str] | None:
    """`PRAGMA quick_check(max_errors)` on the agent's file, opened read-only (never created): its problems,
    [] when the file is sound, None when it was interrupted after ``timeout_s`` (a big file on a slow card).

    Raises sqlite3.DatabaseError when SQLite cannot read the file at all (not a database, a malformed page)."""
    deadline = time.monotonic() + timeout_s
    with read_only(path) as conn:
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), progress_ops)
        try:
            rows = conn.execute(f"PRAGMA quick_check({int(max_errors)})").fetchall()
        except sqlite3.OperationalError as exc:
            if time.monotonic() > deadline and "interrupt" in str(exc):
                return None
            raise
    problems = [str(row[0]) for row in rows]
    return [] if problems == ["ok"] else problems
