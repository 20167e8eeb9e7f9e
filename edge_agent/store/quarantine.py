"""A corrupt database is moved aside, never deleted, and the agent starts on a new one with a new epoch.

At open the file gets a bounded ``PRAGMA quick_check``; a file SQLite cannot read, one that fails the check, or one
the last run found corrupt (faults.py's marker) is renamed with its -wal and -shm to ``<name>.corrupt-<UTC time>``
(so ``sqlite3 <that name>`` still finds its WAL), and the new database records where it went, why and when (meta
``quarantine``), which `edge-agent status` and the health message show. README "Troubleshooting" says how to
recover the unconfirmed ops it still holds. A new epoch means no op id of the old file is ever reused.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge_agent.const import STARTUP_QUICK_CHECK_PROGRESS_OPS, STARTUP_QUICK_CHECK_TIMEOUT_S
from edge_agent.store.faults import is_corruption, marker_path

log = logging.getLogger(__name__)

__all__ = ["META_KEY", "Quarantined", "open_checked", "quarantined_from_meta"]

META_KEY = "quarantine"
SIDE_FILES = ("-wal", "-shm")
REASON_MAX = 300


@dataclass(frozen=True, slots=True)
class Quarantined:
    path: str
    """The quarantined main file; its -wal and -shm, when there were any, have the same name plus the suffix."""
    reason: str
    at: str
    """UTC, ISO 8601."""

    def to_meta(self) -> dict[str, str]:
        return {META_KEY: json.dumps(asdict(self))}


def quarantined_from_meta(meta: dict[str, str]) -> Quarantined | None:
    text = meta.get(META_KEY)
    if not text:
        return None
    try:
        return Quarantined(**json.loads(text))
    except (ValueError, TypeError):
        return None


def check(conn: sqlite3.Connection) -> str | None:
    """None when the file is sound (or the check ran out of time: a slow card is not corruption), else why not.
    Raises sqlite3.DatabaseError when SQLite cannot read the file at all."""
    deadline = time.monotonic() + STARTUP_QUICK_CHECK_TIMEOUT_S
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), STARTUP_QUICK_CHECK_PROGRESS_OPS)
    try:
        rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.OperationalError as exc:
        if time.monotonic() > deadline and "interrupt" in str(exc):
            log.warning("storage: quick_check unfinished after %.0f s; opened unchecked", STARTUP_QUICK_CHECK_TIMEOUT_S)
            return None
        raise
    finally:
        conn.set_progress_handler(None, 0)
    result = "; ".join(str(r[0]) for r in rows)
    return None if result == "ok" else f"quick_check: {result}"


def open_checked(
    path: Path, connect: Callable[[Path], sqlite3.Connection], now: Callable[[], float] = time.time
) -> tuple[sqlite3.Connection, Quarantined | None]:
    """The connection to a sound database at ``path``: the existing one, or a new one after quarantining it."""
    marker = marker_path(path)
    problem: str | None = None
    if marker.exists():
        problem = "found corrupt at run time: " + marker.read_text(encoding="utf-8", errors="replace").strip()
    elif path.exists():
        conn: sqlite3.Connection | None = None
        try:
            conn = connect(path)
            problem = check(conn)
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None and conn is not None:
            return conn, None
        if conn is not None:
            conn.close()
    if problem is None:
        return connect(path), None
    record = _move_aside(path, problem[:REASON_MAX], now())
    marker.unlink(missing_ok=True)
    log.critical("storage: %s was corrupt (%s); moved to %s; starting on a new database", path, problem, record.path)
    return connect(path), record


def _move_aside(path: Path, reason: str, at: float) -> Quarantined:
    when = datetime.fromtimestamp(at, UTC)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while any(Path(f"{target}{suffix}").exists() for suffix in ("", *SIDE_FILES)):
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    for suffix in SIDE_FILES:  # the side files first: a crash in between leaves the main file where it was
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, f"{target}{suffix}")
    if path.exists():
        os.replace(path, target)
    _sync_dir(path.parent)
    return Quarantined(str(target), reason, when.isoformat())


def _sync_dir(directory: Path) -> None:
    """A rename is durable only once its directory is synced."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
