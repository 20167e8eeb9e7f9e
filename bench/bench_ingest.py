"""Benchmark: durable ingest of a scan burst with group commit, DeviceStore.record vs raw SQLite.

Usage: python bench/bench_ingest.py [--quick | --smoke] [--rounds R]

For each group size (1, 16 and 256 commands per call, i.e. per COMMIT), in the same run:
- agent: DeviceStore.record([AddItem ...] * group) on a fresh device database (WAL + synchronous=FULL, as the
  agent opens it): plan, outbox row (which holds the cart entry until a confirm files it) and HLC in one
  transaction;
- raw: stdlib sqlite3 with the same durability (WAL + synchronous=FULL, BEGIN IMMEDIATE ... COMMIT), the
  same number of ~300-byte rows, `group` INSERTs per COMMIT into a table with a monotonic INTEGER key.
- floor: what any agent with this store's schema costs: the fewest Python steps that make each op distinct (its
  seq, op id, random uuid, HLC and JSON body, formatted in one f-string) and the two rows the store keeps of a scan
  for good (its outbox row and, once filed, its cart entry), `executemany` into the agent's own tables (a database
  DeviceStore.open created), one COMMIT per group at the same durability. No validation, no held entries (every
  entry is filed in the end: at a confirm or in bulk), no Recorded results. The agent cannot beat it; how close it
  comes is the agent's overhead, and floor/raw is what the schema leaves of the raw rate.

Agent and raw alternate for --rounds rounds (median shown), so load from other processes hits both alike.
CPU per op: this process's CPU time over the loop (time.process_time), the figure the load of other
processes disturbs least. Bytes written per op: the delta of this process's /proc/self/io write_bytes (what
it sent towards the block layer, WAL and checkpoints included) over the measured loop, divided by the ops.
A new basket starts every 50 scans (as at a kiosk), so no cart grows without bound.
--smoke: one group per size, to prove the bench still runs.
Target: agent ops/s >= 0.5 x raw ops/s at the same group size. Nothing here asserts a time; it only prints.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import _common as c
import _cpu_quota as cpu_quota  # also puts the repo on sys.path

from edge_agent.const import HELD_ENTRIES_MAX
from edge_agent.domain.basket import AddItem
from edge_agent.domain.hlc import pack
from edge_agent.store.device import DeviceStore
from simulators.camera import DEMO_CODES

GROUPS = (1, 16, 256)
FULL_OPS = {1: 1000, 16: 8000, 256: 25600}
QUICK_OPS = {1: 300, 16: 1600, 256: 5120}
SMOKE_OPS = {1: 20, 16: 64, 256: 256}
BASKET = 50
TARGET_RATIO = 0.5
SKUS = tuple("0" + code for code in DEMO_CODES)


@dataclass(frozen=True)
class Run:
    ops: int
    seconds: float
    commit_s: list[float]
    written: int | None
    cpu_s: float
    """This process's CPU time over the loop: what a loaded machine's wall clock hides."""

    @property
    def rate(self) -> float:
        return self.ops / self.seconds


def _delta(before: int | None) -> int | None:
    after = c.process_write_bytes()
    return None if before is None or after is None else after - before


def timed(commit: Callable[[int], object], ops: int, group: int) -> Run:
    """``commit(first)`` for each group (its first op's index), each one COMMIT: wall time per commit, the loop's
    wall and CPU time and this process's bytes written, for every side alike."""
    commit_s = []
    before = c.process_write_bytes()
    cpu = time.process_time()
    start = time.perf_counter()
    for first in range(0, ops, group):
        t = time.perf_counter()
        commit(first)
        commit_s.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    return Run(ops, elapsed, commit_s, _delta(before), cpu)


def run_agent(db: Path, group: int, ops: int) -> Run:
    store = DeviceStore.open(db, "kiosk-01")
    batches = {
        first: [AddItem(f"kiosk-01-basket-{i // BASKET:05d}", SKUS[i % len(SKUS)]) for i in range(first, first + group)]
        for first in range(0, ops, group)
    }
    try:
        return timed(lambda first: store.record(batches[first]), ops, group)
    finally:
        store.close()


def _bare(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def run_raw(db: Path, group: int, ops: int) -> Run:
    conn = _bare(db)
    conn.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    rows = [("x" * c.RAW_PAYLOAD_BYTES,)] * group

    def commit(_first: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO outbox (body) VALUES (?)", rows)
        conn.execute("COMMIT")

    try:
        return timed(commit, ops, group)
    finally:
        conn.close()


_FLOOR_OUTBOX = "INSERT INTO outbox (seq, cart_id, kind, body, hlc, created_at) VALUES (?, ?, ?, ?, ?, ?)"
_FLOOR_ENTRY = (
    "INSERT INTO cart_entries (entry_id, cart_id, sku, qty, hlc, origin_device, serial) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_FLOOR_CART = "INSERT OR IGNORE INTO carts (cart_id, opened_at) VALUES (?, ?)"


def run_floor(db: Path, group: int, ops: int) -> Run:
    """The schema's floor (module docstring): the same scans as run_agent, as bare rows in the agent's tables."""
    DeviceStore.open(db, "kiosk-01").close()  # the agent's schema, migrations and pragmas; then bare sqlite3
    conn = _bare(db)
    device, epoch = "kiosk-01", conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0]
    clock = [pack(int(time.time() * 1000), 0)]

    def commit(first: int) -> None:
        hexes, now, hlc = os.urandom(16 * group).hex(), time.time(), clock[0]
        outbox, entries, carts = [], [], {}
        for seq in range(first + 1, first + group + 1):
            cart, sku, h = (
                f"kiosk-01-basket-{(seq - 1) // BASKET:05d}",
                SKUS[(seq - 1) % len(SKUS)],
                hexes[32 * (seq - first - 1) :],
            )
            op_id, hlc = f"{device}:{epoch}:{seq}", hlc + 1
            body = (
                f'{{"op_id":"{op_id}","uuid":"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:32]}",'
                f'"device":"{device}","epoch":"{epoch}","seq":{seq},"cart_id":"{cart}","kind":"entry.add",'
                f'"hlc":{hlc},"sku":"{sku}","qty":1,"observed":[]}}'
            )
            outbox.append((seq, cart, "entry.add", body, hlc, now))
            entries.append((op_id, cart, sku, 1, hlc, device, None))
            carts[cart] = now
        clock[0] = hlc
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_FLOOR_CART, carts.items())
        conn.executemany(_FLOOR_OUTBOX, outbox)
        conn.executemany(_FLOOR_ENTRY, entries)
        conn.execute("COMMIT")

    try:
        return timed(commit, ops, group)
    finally:
        conn.close()


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


def per_op(run: Run) -> str:
    return "n/a" if run.written is None else f"{run.written / run.ops / 1024:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer ops, one round (under a minute)")
    parser.add_argument("--smoke", action="store_true", help="a few ops, one round (seconds)")
    parser.add_argument("--rounds", type=int, default=None, help="agent/raw alternations (default 3; --quick 1)")
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    rounds = args.rounds or (1 if args.quick or args.smoke else 3)
    sizes = SMOKE_OPS if args.smoke else QUICK_OPS if args.quick else FULL_OPS

    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    print("# Durable ingest: DeviceStore.record (group commit) vs raw SQLite, WAL + synchronous=FULL\n")
    print(f"{datetime.date.today()}, {c.machine_line()}; work directory on {workdir.parent}\n")
    rows = []
    try:
        for group in GROUPS:
            ops = sizes[group]
            agent_runs, raw_runs, floor_runs = [], [], []
            for r in range(rounds):
                raw_runs.append(run_raw(workdir / f"raw-{group}-{r}.db", group, ops))
                agent_runs.append(run_agent(workdir / f"agent-{group}-{r}.db", group, ops))
                floor_runs.append(run_floor(workdir / f"floor-{group}-{r}.db", group, ops))
            agent, raw, floor = median_run(agent_runs), median_run(raw_runs), median_run(floor_runs)
            a50, a99 = c.summary_ms(agent.commit_s)[:2]
            r50, r99 = c.summary_ms(raw.commit_s)[:2]
            rows.append(
                [
                    group,
                    f"{ops:,}",
                    f"{agent.rate:,.0f}",
                    f"{raw.rate:,.0f}",
                    c.ratio(agent.rate, raw.rate),
                    f"{floor.rate:,.0f} ({c.ratio(floor.rate, raw.rate)} of raw)",
                    c.ratio(agent.rate, floor.rate),
                    f"{a50:.2f} / {a99:.2f}",
                    f"{r50:.2f} / {r99:.2f}",
                    per_op(agent),
                    per_op(raw),
                    f"{agent.cpu_s / ops * 1e6:.1f} / {floor.cpu_s / ops * 1e6:.1f} / {raw.cpu_s / ops * 1e6:.1f}",
                ]
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        c.md_table(
            [
                "ops per commit",
                "ops",
                "agent ops/s",
                "raw ops/s",
                f"ratio (target >= {TARGET_RATIO})",
                "floor ops/s (schema's floor)",
                "agent / floor",
                "agent ms per commit p50 / p99",
                "raw ms per commit p50 / p99",
                "agent KB written per op",
                "raw KB written per op",
                "CPU us per op agent / floor / raw",
            ],
            rows,
        )
    )
    print()
    print(
        f"Median of {rounds} alternating round(s) by ops/s. Raw rows are {c.RAW_PAYLOAD_BYTES} B; an agent op is "
        "one outbox row (~260 B of JSON); its cart entry is held in memory until the watermark confirms it (nothing "
        f"confirms here), or filed in bulk once {HELD_ENTRIES_MAX} are held (store/held.py); the newest outbox row "
        "holds the seq and HLC high-water marks, so nothing else is written. The floor writes each op's outbox row "
        "and cart entry from a bare loop into the agent's tables: the agent cannot beat it, and where floor/raw is "
        "below the target no agent with this schema meets it."
    )
    if c.process_write_bytes() is None:
        print("/proc/self/io is not readable here: bytes written per op are n/a.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
