"""Benchmark: bytes written per op per statement, one op per commit, next to raw sqlite3 with the same pragmas.

Usage: python bench/bench_write_amp.py [--quick | --smoke] [--rounds R]

Each op goes through the outbox's whole life, each step its own commit as the link does it with a window of
one: record (synchronous=FULL), lease, mark_sent and confirm (bookkeeping: synchronous=NORMAL, no fsync of
their own; a confirm's delete is deferred to the next write, here the next op's record). Per statement the
bench counts the WAL frames it appended (automatic checkpoints off during the loop, so the WAL only grows:
frames = growth / (page_size + 24)); the checkpoint that copies those pages into
the database at the end is measured apart, as this process's /proc/self/io write_bytes across it.
Each frame is also attributed to the b-tree its page belongs to (the page number in the frame header, the owner
from SQLite's dbstat table), so the table shows what each statement writes: a table, an index, page 1 (the header,
rewritten whenever the file grows or its freelist changes).
Raw: stdlib sqlite3, the agent's pragmas, a rowid table, one INSERT of a row the size of an agent's outbox
row per commit, then one DELETE per commit (the same two writes the op's life must make at the least).
--smoke: a few ops, to prove the bench still runs. Nothing here asserts; it only prints.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import shutil
import sqlite3
import struct
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import _common as c
import _cpu_quota as cpu_quota  # also puts the repo on sys.path

from edge_agent.domain.basket import AddItem
from edge_agent.store.db import connect
from edge_agent.store.device import DeviceStore
from simulators.camera import DEMO_CODES

FULL_OPS, QUICK_OPS, SMOKE_OPS = 2000, 500, 20
BASKET = 50
"""A new basket every 50 scans, as bench_ingest does."""
WAL_HEADER_BYTES = 32
WAL_FRAME_HEADER_BYTES = 24
"""SQLite's WAL format: a 32-byte file header, then a 24-byte header before each page."""
TARGET_RATIO = 1.5
"""Issue 14: an op's bytes at most 1.5 x what raw sqlite3 writes for the same row."""
SKUS = tuple("0" + code for code in DEMO_CODES)
STATEMENTS = ("record", "lease", "mark_sent", "confirm")
RAW_STATEMENTS = ("insert", "delete")
LEASE_MAX_BYTES = 1 << 20
"""Far above one row: the lease takes exactly the one pending op."""


@dataclass
class Tally:
    """WAL frames per statement, then what the final checkpoint wrote."""

    frames: dict[str, int] = field(default_factory=dict)
    trees: dict[str, Counter[str]] = field(default_factory=dict)
    """Per statement, its frames by the b-tree (table or index) each page belonged to when it was written."""
    checkpoint_bytes: int = 0
    page_size: int = 4096
    ops: int = 0

    def frame_bytes(self, name: str) -> float:
        return self.frames.get(name, 0) * (self.page_size + WAL_FRAME_HEADER_BYTES) / self.ops

    def total(self) -> float:
        return sum(self.frame_bytes(n) for n in self.frames) + self.checkpoint_bytes / self.ops


class WalCounter:
    def __init__(self, wal: Path, page_size: int, tally: Tally, conn: sqlite3.Connection | None = None) -> None:
        self.wal, self.frame, self.tally, self.conn = wal, page_size + WAL_FRAME_HEADER_BYTES, tally, conn
        self.last = self._size()

    def _size(self) -> int:
        return self.wal.stat().st_size if self.wal.exists() else 0

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """The frames the writes inside the block appended to the WAL, counted under ``name``."""
        yield
        size = self._size()
        start = self.last + (WAL_HEADER_BYTES if self.last == 0 and size else 0)
        self.tally.frames[name] = self.tally.frames.get(name, 0) + (size - start) // self.frame
        if self.conn is not None and size > start:
            self._count_trees(name, start, size)
        self.last = size

    def _count_trees(self, name: str, start: int, end: int) -> None:
        """Each frame header starts with its page number; dbstat says which b-tree holds that page now."""
        with open(self.wal, "rb") as f:
            f.seek(start)
            data = f.read(end - start)
        pages = [struct.unpack_from(">I", data, off)[0] for off in range(0, len(data) - self.frame + 1, self.frame)]
        assert self.conn is not None
        owner = dict(self.conn.execute("SELECT pageno, name FROM dbstat"))
        counts = self.tally.trees.setdefault(name, Counter())
        counts.update(str(owner.get(p, "freelist")) for p in pages)


def _checkpoint(conn: sqlite3.Connection, tally: Tally) -> None:
    before = c.process_write_bytes() or 0
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    tally.checkpoint_bytes = (c.process_write_bytes() or 0) - before


def run_agent(db: Path, ops: int, *, trees: bool = True) -> Tally:
    store = DeviceStore.open(db, "kiosk-01")
    tally = Tally(page_size=int(store.conn.execute("PRAGMA page_size").fetchone()[0]), ops=ops)
    try:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.autocheckpoint(0)
        wal = WalCounter(Path(f"{db}-wal"), tally.page_size, tally, store.conn if trees else None)
        for i in range(ops):
            cart = f"kiosk-01-basket-{i // BASKET:05d}"
            with wal.step("record"):
                store.record([AddItem(cart, SKUS[i % len(SKUS)])])
            with wal.step("lease"):
                leased = [r.seq for r in store.lease(1, LEASE_MAX_BYTES)]
            with wal.step("mark_sent"):
                store.mark_sent(leased)
            with wal.step("confirm"):
                store.confirm(store.epoch, leased[-1])
        _checkpoint(store.conn, tally)
    finally:
        store.close()
    return tally


def agent_row_bytes(db: Path) -> int:
    """The size of one agent outbox row's values, so raw inserts a row as large."""
    store = DeviceStore.open(db, "kiosk-01")
    try:
        store.record([AddItem("kiosk-01-basket-00000", SKUS[0])])
        row = store.conn.execute("SELECT cart_id, kind, body FROM outbox").fetchone()
        return sum(len(v) for v in row) + 8 * 5  # five numeric columns at most 8 bytes each
    finally:
        store.close()


def run_raw(db: Path, ops: int, row_bytes: int) -> Tally:
    conn = connect(db)  # the agent's pragmas: WAL, synchronous=FULL, secure_delete=FAST, ...
    conn.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    tally = Tally(page_size=int(conn.execute("PRAGMA page_size").fetchone()[0]), ops=ops)
    body = "x" * row_bytes
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        wal = WalCounter(Path(f"{db}-wal"), tally.page_size, tally)
        for i in range(1, ops + 1):
            with wal.step("insert"):
                _commit(conn, "INSERT INTO outbox VALUES (?, ?)", (i, body))
            with wal.step("delete"):
                _commit(conn, "DELETE FROM outbox WHERE seq <= ?", (i,))
        _checkpoint(conn, tally)
    finally:
        conn.close()
    return tally


def _commit(conn: sqlite3.Connection, sql: str, args: tuple[object, ...]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(sql, args)
    conn.execute("COMMIT")


def kb(value: float) -> str:
    return f"{value / 1024:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer ops")
    parser.add_argument("--smoke", action="store_true", help="a few ops (seconds)")
    parser.add_argument("--rounds", type=int, default=1, help="runs; the figures are counts, so one is enough")
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    ops = SMOKE_OPS if args.smoke else QUICK_OPS if args.quick else FULL_OPS
    workdir = Path(tempfile.mkdtemp(prefix="bench-write-amp-"))
    print("# Bytes written per op per statement, one op per commit: the outbox's life vs raw sqlite3\n")
    print(f"{datetime.date.today()}, {c.machine_line()}; work directory on {workdir.parent}\n")
    try:
        row_bytes = agent_row_bytes(workdir / "size.db")
        agent = run_agent(workdir / "agent.db", ops)
        raw = run_raw(workdir / "raw.db", ops, row_bytes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = [[f"agent {n}", f"{agent.frames.get(n, 0) / ops:.2f}", kb(agent.frame_bytes(n))] for n in STATEMENTS]
    rows += [[f"raw {n}", f"{raw.frames.get(n, 0) / ops:.2f}", kb(raw.frame_bytes(n))] for n in RAW_STATEMENTS]
    rows += [
        ["agent checkpoint (amortised)", "", kb(agent.checkpoint_bytes / ops)],
        ["raw checkpoint (amortised)", "", kb(raw.checkpoint_bytes / ops)],
        ["**agent total per op**", "", f"**{kb(agent.total())}**"],
        ["**raw total per op**", "", f"**{kb(raw.total())}**"],
    ]
    print(c.md_table(["statement (one per commit)", "WAL frames per op", "KB per op"], rows))
    print()
    by_tree = [
        [f"agent {n}", tree, f"{count / ops:.3f}"]
        for n in STATEMENTS
        for tree, count in sorted(agent.trees.get(n, Counter()).items(), key=lambda kv: -kv[1])
    ]
    print(c.md_table(["statement", "b-tree written (sqlite_schema: page 1, the header)", "WAL frames per op"], by_tree))
    print()
    print(
        f"{ops:,} ops; raw rows are {row_bytes} B, the size of one agent outbox row. "
        f"Ratio agent / raw: {agent.total() / raw.total():.2f}x (target <= {TARGET_RATIO}x). "
        "A frame is one page plus its 24-byte header; a checkpoint writes each page the WAL holds once."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
