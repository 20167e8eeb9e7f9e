"""Benchmark: a store that does not grow forever -- per-op cost with 1,000,000 ops stored, and a month's size.

Usage: python bench/bench_store_growth.py [--quick | --smoke] [--rounds R]

Per-op cost: a durable add (DeviceStore.record of one AddItem, synchronous=FULL, one commit per scan as at a
kiosk) on a device database already holding 1,000,000 ops, next to the same on one holding 1,000. "Held" is the
worst case a device lives through: an outage long enough that none was confirmed, so every op is both an outbox
row and a cart entry, over 20-op baskets. The rows are generated with executemany in the setup (bodies from one
real op's JSON), not through the agent. Both databases are timed in alternating rounds (best round of each: a
loaded machine only ever adds time). Target: 1M / 1k <= 1.3 x.

A simulated month of a busy kiosk: 30 days x sessions x lines through the real DeviceStore and the real SessionDesk
(roles/sessions.py) on a fake clock. Each session scans its lines, removes one and changes one quantity, then
checks out. The platform (the domain rule: CartReplica, decide_checkout) applies the ops; the device gets the
applied watermark (confirm) and the cart's snapshot (merge_snapshot, which collects confirmed removals), and the
session desk purges the ended basket after its retention, at most PURGES_PER_TICK per heartbeat. The same month
runs again without collection: snapshots merged by plain union (tombstones kept) and nothing purged. The figure
is the file size after a TRUNCATE checkpoint, plus the live bytes (store/budget.py used_bytes).
--smoke: 20,000 ops held, 2 days, to prove the bench still runs. Nothing here asserts; it only prints.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import _common as c
import _cpu_quota as cpu_quota  # also puts the repo on sys.path

from edge_agent import const
from edge_agent.domain.basket import AddItem, BasketCommand, RemoveItem, RequestCheckout, SetQuantity
from edge_agent.domain.cart import CartReplica, Effects, decide_checkout, effects_of
from edge_agent.domain.ops import CartOp, OpKind
from edge_agent.domain.session import MergePolicy
from edge_agent.roles.sessions import SessionDesk
from edge_agent.store import carts
from edge_agent.store.budget import used_bytes
from edge_agent.store.device import DeviceStore
from edge_agent.store.held import ENTRIES_FILED_KEY
from simulators.camera import DEMO_CODES

DEVICE = "kiosk-01"
SKUS = tuple("0" + code for code in DEMO_CODES)
TARGET_RATIO = 1.3
"""Issue 14: an op on a store holding 1,000,000 ops costs at most 1.3 x one on a store holding 1,000."""
HELD_SMALL, HELD_LARGE, HELD_SMOKE = 1_000, 1_000_000, 20_000
OPS_PER_CART = 20
TIMED_OPS, QUICK_TIMED_OPS, SMOKE_TIMED_OPS = 1000, 300, 30
ROUNDS, QUICK_ROUNDS = 5, 2
INSERT_CHUNK = 50_000
WAL_HEADER_BYTES, WAL_FRAME_HEADER_BYTES = 32, 24
"""SQLite's WAL format: a 32-byte file header, then a 24-byte header before each page (as bench_write_amp)."""

DAYS, SMOKE_DAYS = 30, 2
SESSIONS_PER_DAY, SMOKE_SESSIONS_PER_DAY = 300, 20
"""A busy kiosk: 300 baskets over a 12-hour day, one every 2.4 minutes."""
LINES_PER_SESSION = 8
OPEN_S = 12 * 3600
TICK_S = 60.0
"""The simulated heartbeat (production: 5 s); each purges at most PURGES_PER_TICK baskets, far above the rate."""


# --- per-op cost with many ops held ---------------------------------------------------------------------------
def build_held(path: Path, held: int) -> None:
    """A device database holding ``held`` unconfirmed adds: outbox rows and cart entries, 20 per basket."""
    store = DeviceStore.open(path, DEVICE)
    [first] = store.record([AddItem("template", SKUS[0])])
    epoch = store.epoch
    store.close()
    assert first.op is not None
    template = first.op.model_dump_json(exclude_none=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # setup only; the timed part runs through the real store
    conn.execute("BEGIN")
    conn.execute("DELETE FROM outbox")
    conn.execute("DELETE FROM cart_entries")
    conn.execute("DELETE FROM carts")
    now, hlc0 = time.time(), first.op.hlc
    for start in range(1, held + 1, INSERT_CHUNK):
        seqs = range(start, min(held, start + INSERT_CHUNK - 1) + 1)
        carts_rows = [(f"held-{s // OPS_PER_CART}", now) for s in seqs if s % OPS_PER_CART == 0 or s == start]
        conn.executemany("INSERT OR IGNORE INTO carts (cart_id, opened_at) VALUES (?, ?)", carts_rows)
        ids = [(s, f"{DEVICE}:{epoch}:{s}") for s in seqs]
        conn.executemany(
            "INSERT INTO cart_entries (entry_id, cart_id, sku, qty, hlc, origin_device) VALUES (?, ?, ?, 1, ?, ?)",
            [(op_id, f"held-{s // OPS_PER_CART}", SKUS[s % len(SKUS)], hlc0 + s, DEVICE) for s, op_id in ids],
        )
        conn.executemany(
            "INSERT INTO outbox (seq, cart_id, kind, body, hlc, created_at) VALUES (?, ?, 'entry.add', ?, ?, ?)",
            [
                (
                    s,
                    f"held-{s // OPS_PER_CART}",
                    template.replace(first.op.op_id, op_id).replace('"seq":1,', f'"seq":{s},'),
                    hlc0 + s,
                    now,
                )
                for s, op_id in ids
            ],
        )
    conn.execute("UPDATE meta SET value = ? WHERE key = 'hlc.seq'", (str(held),))
    # Their entries are in cart_entries: filed, as after a group that filed them in bulk (store/held.py).
    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (ENTRIES_FILED_KEY, str(held)))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def time_adds(store: DeviceStore, n: int, offset: int) -> tuple[float, float, float]:
    """(wall s, CPU s, WAL frames) per op of n durable adds, one commit each, a new basket every 20.

    As in the agent, no commit checkpoints (autocheckpoint 0: the agent's checkpoint thread does it off the
    loop), so the WAL only grows and its growth counts the pages each op wrote; the checkpoint runs untimed."""
    store.autocheckpoint(0)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = Path(f"{store.path}-wal")
    page = int(store.conn.execute("PRAGMA page_size").fetchone()[0])
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(n):
        store.record([AddItem(f"timed-{(offset + i) // OPS_PER_CART}", SKUS[i % len(SKUS)])])
    wall, cpu = (time.perf_counter() - wall0) / n, (time.process_time() - cpu0) / n
    frames = (wal.stat().st_size - WAL_HEADER_BYTES) / (page + WAL_FRAME_HEADER_BYTES) / n
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return wall, cpu, frames


@dataclass
class Cost:
    held: int
    build_s: float
    file_mb: float
    wall: list[float]
    cpu: list[float]
    frames: list[float]


def per_op_costs(workdir: Path, sizes: tuple[int, ...], timed: int, rounds: int) -> list[Cost]:
    costs, stores = [], []
    for held in sizes:
        path = workdir / f"held-{held}.db"
        t0 = time.perf_counter()
        build_held(path, held)
        costs.append(Cost(held, time.perf_counter() - t0, path.stat().st_size / 1e6, [], [], []))
        stores.append(DeviceStore.open(path, DEVICE))
    try:
        for r in range(rounds):  # alternating, so load drift hits both sides alike
            for cost, store in zip(costs, stores, strict=True):
                wall, cpu, frames = time_adds(store, timed, r * timed)
                cost.wall.append(wall)
                cost.cpu.append(cpu)
                cost.frames.append(frames)
    finally:
        for store in stores:
            store.close()
    return costs


# --- a month of a busy kiosk ----------------------------------------------------------------------------------
class Platform:
    """The platform's side of the month, by the domain rule the central simulator also applies."""

    def __init__(self) -> None:
        self.carts: dict[str, CartReplica] = {}
        self.versions: dict[str, int] = {}

    def apply(self, ops: list[CartOp]) -> None:
        for op in ops:
            cart = self.carts.setdefault(op.cart_id, CartReplica(op.cart_id))
            cart.apply(effects_of(op))
            self.versions[op.cart_id] = self.versions.get(op.cart_id, 0) + 1

    def snapshot(self, store: DeviceStore, cart_id: str, ops: list[CartOp], *, collecting: bool) -> None:
        cart = self.carts[cart_id]
        checkout = next((op for op in ops if op.kind is OpKind.CHECKOUT), None)
        seal = None if checkout is None else decide_checkout(cart.live(), checkout, None).seal
        version = self.versions[cart_id]
        if collecting:
            store.merge_snapshot(cart_id, version, cart.live(), cart.tombstones, cart.attrs.values(), 0, seal)
        else:  # the store before collection: a snapshot merged by plain union, its tombstones stored
            conn = store.conn
            conn.execute("BEGIN")
            union = Effects(cart_id, tuple(cart.live()), tuple(cart.tombstones), tuple(cart.attrs.values()))
            carts.apply_effects(conn, [union])
            if seal is not None:
                carts.record_seal(conn, cart_id, seal)
            conn.execute("COMMIT")


@dataclass
class Month:
    ops: int
    sessions: int
    file_mb: float
    live_mb: float
    rows: dict[str, int]
    seconds: float


def month(path: Path, days: int, sessions_per_day: int, *, collecting: bool) -> Month:
    store = DeviceStore.open(path, DEVICE)
    store.conn.execute("PRAGMA synchronous=NORMAL")  # size does not depend on fsyncs; a month runs in seconds
    clock = [1_800_000_000.0]
    now: Callable[[], float] = lambda: clock[0]  # noqa: E731
    desk = SessionDesk(
        store,
        MergePolicy.SUM,
        None,
        idle_timeout_s=const.DEFAULT_SESSION_IDLE_S,
        anonymous_retention_s=const.DEFAULT_ANONYMOUS_RETENTION_S,
        publish_state=lambda _s: None,
        follow_cart=lambda _c: None,
        record=store.record,
        now=now,
    )
    platform, total_ops, n = Platform(), 0, 0
    cart = f"{DEVICE}-{n}"
    store.open_cart(cart)
    desk.start(cart)
    gap = OPEN_S / sessions_per_day
    started = time.perf_counter()
    next_tick = clock[0]
    for day in range(days):
        opening = 1_800_000_000.0 + day * 86_400
        for s in range(sessions_per_day):
            clock[0] = opening + s * gap
            while next_tick <= clock[0]:  # the heartbeats since the last session
                if collecting:
                    desk.purge_due()
                next_tick += TICK_S
            lines = [SKUS[(n + i) % len(SKUS)] for i in range(LINES_PER_SESSION)]
            commands: list[BasketCommand] = [AddItem(cart, sku) for sku in lines]
            commands += [RemoveItem(cart, lines[0]), SetQuantity(cart, lines[1], 2), RequestCheckout(cart)]
            ops = [r.op for r in store.record(commands) if r.op is not None]
            total_ops += len(ops)
            platform.apply(ops)
            store.confirm(store.epoch, store.highest_issued_seq())
            platform.snapshot(store, cart, ops, collecting=collecting)
            n += 1
            cart = f"{DEVICE}-{n}"
            store.open_cart(cart)
            desk.end("checkout", cart)
        clock[0] = opening + 86_400 - 1  # the night: heartbeats go on
        while collecting and next_tick <= clock[0]:
            desk.purge_due()
            next_tick += TICK_S
        next_tick = max(next_tick, clock[0])
    seconds = time.perf_counter() - started
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    tables = ("carts", "cart_entries", "cart_tombstones", "cart_attrs", "cart_seals", "outbox", "meta")
    rows = {t: int(store.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}
    live = used_bytes(store.conn) / 1e6
    store.close()
    return Month(total_ops, n, path.stat().st_size / 1e6, live, rows, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_TIMED_OPS} timed ops, {QUICK_ROUNDS} rounds")
    parser.add_argument("--smoke", action="store_true", help=f"{HELD_SMOKE:,} ops held, {SMOKE_DAYS} days")
    parser.add_argument("--rounds", type=int, default=None)
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    large = HELD_SMOKE if args.smoke else HELD_LARGE
    timed = SMOKE_TIMED_OPS if args.smoke else QUICK_TIMED_OPS if args.quick else TIMED_OPS
    rounds = args.rounds or (1 if args.smoke else QUICK_ROUNDS if args.quick else ROUNDS)
    days = SMOKE_DAYS if args.smoke else DAYS
    per_day = SMOKE_SESSIONS_PER_DAY if args.smoke else SESSIONS_PER_DAY

    workdir = Path(tempfile.mkdtemp(prefix="bench-growth-"))
    print(f"# A store that does not grow forever: per-op cost with {large:,} ops held, and {days} days of a kiosk\n")
    print(f"{datetime.date.today()}, {c.machine_line()}\n")
    try:
        costs = per_op_costs(workdir, (HELD_SMALL, large), timed, rounds)
        with_gc = month(workdir / "month-gc.db", days, per_day, collecting=True)
        without = month(workdir / "month-nogc.db", days, per_day, collecting=False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    small, big = costs
    print(f"Durable add (one AddItem per commit, synchronous=FULL), {timed} per round, best of {rounds}:\n")
    print(
        c.md_table(
            [
                "ops held",
                "setup s",
                "file MB",
                "ms per op (best)",
                "ms per op (each round)",
                "CPU µs per op (best)",
                "WAL pages per op",
            ],
            [
                [
                    f"{k.held:,}",
                    f"{k.build_s:.1f}",
                    f"{k.file_mb:.1f}",
                    f"{min(k.wall) * 1e3:.3f}",
                    " / ".join(f"{w * 1e3:.3f}" for w in k.wall),
                    f"{min(k.cpu) * 1e6:.0f}",
                    f"{statistics.fmean(k.frames):.2f}",
                ]
                for k in costs
            ],
        )
    )
    print(
        f"\nRatio {big.held:,} / {small.held:,} held: wall {c.ratio(min(big.wall), min(small.wall))}, "
        f"CPU {c.ratio(min(big.cpu), min(small.cpu))}, WAL pages "
        f"{c.ratio(statistics.fmean(big.frames), statistics.fmean(small.frames))} (target <= {TARGET_RATIO:g}x)\n"
    )
    print(
        f"{days} days x {per_day} sessions x {LINES_PER_SESSION} lines (+1 removal, +1 quantity change, checkout), "
        f"{with_gc.ops:,} ops:\n"
    )
    print(
        c.md_table(
            ["store", "file MB", "live MB", "carts", "entries", "tombstones", "outbox", "sim s"],
            [
                [
                    name,
                    f"{m.file_mb:.2f}",
                    f"{m.live_mb:.2f}",
                    f"{m.rows['carts']:,}",
                    f"{m.rows['cart_entries']:,}",
                    f"{m.rows['cart_tombstones']:,}",
                    f"{m.rows['outbox']:,}",
                    f"{m.seconds:.1f}",
                ]
                for name, m in (("with collection (production)", with_gc), ("without collection", without))
            ],
        )
    )
    print(f"\nRatio with / without: file {c.ratio(with_gc.file_mb, without.file_mb)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
