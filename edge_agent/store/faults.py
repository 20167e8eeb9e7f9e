"""Storage faults at the store boundary: which sqlite3 errors mean a corrupt file or a full disk, and what the store
does about each, in one place (``StorageFaults.guard`` wraps every transaction of the device store).

A corrupt file (SQLITE_CORRUPT, SQLITE_NOTADB) is never worked around at run time: the store marks it for
quarantine (store/quarantine.py moves it aside at the next open) and tells the agent, which exits with the storage
exit code so systemd's restart opens a new database. A full disk (SQLITE_FULL) is survivable: the transaction is
rolled back (nothing committed is lost), the store says it is full, and the next write that succeeds says so again.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from edge_agent.store.db import StorageError

log = logging.getLogger(__name__)

__all__ = ["StorageCorrupt", "StorageFaults", "StorageFull", "is_corruption", "is_full", "tolerates_full"]

CORRUPTION_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
PRIMARY_CODE_MASK = 0xFF
"""An extended result code's low byte is its primary code (SQLITE_CORRUPT_INDEX & 0xFF == SQLITE_CORRUPT)."""
MARKER_SUFFIX = ".corrupt-detected"
"""Next to the database: written when corruption shows at run time, so the next open quarantines the file even if
quick_check passes (it does not compare indexes with their tables; a restart loop would follow)."""


class StorageFull(StorageError):
    """SQLITE_FULL: the transaction was rolled back; nothing it held was saved, nothing saved before was lost."""


class StorageCorrupt(StorageError):
    """SQLITE_CORRUPT or SQLITE_NOTADB: the agent stops; the file is quarantined at the next open."""


def primary_code(exc: BaseException | None) -> int | None:
    """The primary SQLite result code of ``exc`` or of what it was raised from (a failed ROLLBACK in
    db.transaction replaces the error that caused it; the cause is kept as its context)."""
    seen = 0
    while exc is not None and seen < 4:
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(exc, sqlite3.Error) and isinstance(code, int):
            primary = code & PRIMARY_CODE_MASK
            if primary in CORRUPTION_CODES or primary == sqlite3.SQLITE_FULL:
                return primary
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def is_corruption(exc: BaseException) -> bool:
    return isinstance(exc, StorageCorrupt) or primary_code(exc) in CORRUPTION_CODES


def is_full(exc: BaseException) -> bool:
    return isinstance(exc, StorageFull) or primary_code(exc) == sqlite3.SQLITE_FULL


def marker_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + MARKER_SUFFIX)


@dataclass
class StorageFaults:
    """The store's fault state, read by the health message and the agent."""

    db_path: Path | None = None
    on_corrupt: Callable[[str], None] | None = None
    """The agent's: stop, and exit with the storage exit code."""
    corrupt: str | None = None
    full_since: float | None = None
    """Wall time of the first write refused for a full disk since ops were last saved."""
    full_writes: int = 0
    """Transactions rolled back for a full disk since the agent started."""

    @contextmanager
    def guard(
        self, conn: sqlite3.Connection, tx: AbstractContextManager[sqlite3.Connection], *, records_ops: bool = False
    ) -> Iterator[sqlite3.Connection]:
        """``records_ops``: the transaction that saves scans; only its success ends a full-disk episode (a small
        bookkeeping write may fit in WAL space a rolled-back one left, while scans still find no room)."""
        try:
            with tx as c:
                yield c
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:  # a failed COMMIT may leave the transaction open (SQLite "COMMIT")
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            code = primary_code(exc)
            if code in CORRUPTION_CODES:
                self.corrupted(f"{type(exc).__name__}: {exc}")
                raise StorageCorrupt(str(exc)) from exc
            if code == sqlite3.SQLITE_FULL:
                self.full_writes += 1
                if self.full_since is None:
                    self.full_since = time.time()
                    log.error("storage: the disk is full (%s): new scans are refused until space returns", exc)
                raise StorageFull(str(exc)) from exc
            raise
        if records_ops and self.full_since is not None:
            log.warning("storage: writes succeed again after %.0f s of a full disk", time.time() - self.full_since)
            self.full_since = None

    def corrupted(self, reason: str) -> None:
        """Once: log, leave the marker for the next open, tell the agent."""
        if self.corrupt is not None:
            return
        self.corrupt = reason[:300]
        log.critical("storage: the database is corrupt (%s): stopping; it is quarantined at the next start", reason)
        if self.db_path is not None:
            with suppress(OSError):
                marker_path(self.db_path).write_text(self.corrupt + "\n", encoding="utf-8")
        if self.on_corrupt is not None:
            self.on_corrupt(self.corrupt)


S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")


def tolerates_full(default: R) -> Callable[[Callable[Concatenate[S, P], R]], Callable[Concatenate[S, P], R]]:
    """For the outbox's and the status's bookkeeping writes: on a full disk the write is skipped and ``default``
    returned (a lease that takes nothing, a confirm that deletes nothing: the next round does it once there is room)."""

    def decorate(fn: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
        @functools.wraps(fn)
        def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(self, *args, **kwargs)
            except StorageFull:
                return default

        return wrapper

    return decorate
