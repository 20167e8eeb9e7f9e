"""Benchmark: drain an offline backlog through the real agent until the platform has applied every op.

Usage: python bench/bench_backlog_drain.py [--quick | --smoke] [--ops N] [--central proc|inproc] [--profile FILE]
       [--tcp-nodelay]

1. Offline (no broker, no agent): N AddItem ops are recorded with DeviceStore.record in groups of 500,
   in contiguous runs over ~1000 carts, so no cart is enormous (as a day of kiosk baskets would be).
2. A Mosquitto on a free port starts; the raw ceiling is measured on it first: one paho client publishes
   N x 300-byte QoS 1 messages (loop_start, publish all, count PUBACKs in on_publish).
3. The central simulator starts (by default in its own process, as a real platform would be; --central
   inproc shares this process's GIL with the agent), then the real agent (InProcessAgent: real link, pump,
   inbound router). The clock runs from agent start until the applied watermark has confirmed all N ops,
   i.e. the device outbox is empty.

--profile writes a cProfile of the agent's loop thread and prints its top store/sync functions. The agent's and the
central's paho sockets always have Nagle off (both set TCP_NODELAY themselves); --tcp-nodelay is a diagnostic that
turns it off in Mosquitto too, not the project's figure. --smoke: a tiny backlog, to prove the bench still runs.
Target: drain ops/s >= 1.0 x the raw publish msg/s. Nothing here asserts a time; it only prints.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import pstats
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import _common as c
import _cpu_quota as cpu_quota  # also puts the repo on sys.path

from edge_agent import const
from edge_agent.config import AgentConfig
from edge_agent.domain.basket import AddItem
from edge_agent.store.device import DeviceStore
from simulators.camera import DEMO_CODES
from simulators.central import CentralPlatform
from tests.support.broker import MosquittoBroker
from tests.support.world import InProcessAgent

DEVICE = "kiosk-01"
RECORD_GROUP = 500
CARTS = 1000
TARGET_RATIO = 1.0
DRAIN_TIMEOUT_S = 900.0
UPLINK_POLL_S = 0.005
SKUS = tuple("0" + code for code in DEMO_CODES)
SMOKE_OPS, SMOKE_CARTS = 300, 10
"""--smoke: a backlog of a few batches (100 ops each) over a few carts."""


def record_backlog(db_path: Path, n: int, carts: int) -> tuple[float, float]:
    """Record n ops offline; returns (seconds, mean op body bytes)."""
    per_cart = max(1, n // carts)
    store = DeviceStore.open(db_path, DEVICE)
    try:
        start = time.perf_counter()
        for first in range(0, n, RECORD_GROUP):
            store.record(
                [
                    AddItem(f"cart-{(i // per_cart) % carts:04d}", SKUS[i % len(SKUS)])
                    for i in range(first, min(n, first + RECORD_GROUP))
                ]
            )
        elapsed = time.perf_counter() - start
        body = store.conn.execute("SELECT avg(length(body)) FROM outbox").fetchone()[0]
    finally:
        store.close()
    return elapsed, float(body)


@contextlib.contextmanager
def central(mode: str, workdir: Path, broker: MosquittoBroker) -> Iterator[CentralPlatform | None]:
    db = workdir / "central.db"
    if mode == "inproc":
        platform = CentralPlatform(db, broker.host, broker.port).start()
        try:
            yield platform
        finally:
            platform.stop()
    else:
        with c.central_process(db, broker.host, broker.port, workdir / "central.log"):
            yield None


def central_applied(workdir: Path) -> int:
    conn = sqlite3.connect(f"file:{workdir / 'central.db'}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM applied_ops WHERE device = ?", (DEVICE,)).fetchone()[0])
    finally:
        conn.close()


@dataclass
class Drain:
    config: AgentConfig
    seconds: float
    uplink_s: float
    first_confirm_s: float
    counters: dict[str, int]
    accepted: dict[str, int]
    outbox_left: int
    central_applied: int
    confirm_messages: int


def drain(workdir: Path, broker: MosquittoBroker, n: int, args: argparse.Namespace) -> Drain:
    config = c.production_config(workdir, broker.port, DEVICE, batch_max_ops=args.batch_max_ops, window=args.window)
    confirmed = 0
    done = threading.Event()
    finished_at = 0.0
    progress: list[tuple[float, int]] = []

    def on_confirmed(count: int) -> None:  # on the agent's loop
        nonlocal confirmed, finished_at
        confirmed += count
        progress.append((time.perf_counter(), confirmed))
        if confirmed >= n and not done.is_set():
            finished_at = time.perf_counter()
            done.set()

    profiler = cProfile.Profile() if args.profile else None
    agent = InProcessAgent(config)
    with central(args.central, workdir, broker):
        start = time.perf_counter()
        agent.start()
        assert agent.agent is not None
        pump = agent.agent.pump
        pump.on_confirmed = on_confirmed  # before the link is up: connecting takes far longer than this
        if profiler is not None:
            agent.call(profiler.enable)  # cProfile follows the thread that enables it: the agent's loop
        try:
            uplink_done: float | None = None
            deadline = time.monotonic() + DRAIN_TIMEOUT_S
            while not done.wait(UPLINK_POLL_S):
                # Every op handed to the broker and PUBACKed (one hop): the agent's own uplink pace.
                if uplink_done is None and pump.counters.ops_published >= n and pump.inflight == 0:
                    uplink_done = time.perf_counter()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"drain: {confirmed}/{n} confirmed after {DRAIN_TIMEOUT_S}s")
            if uplink_done is None:  # finished between two polls
                uplink_done = finished_at
            if profiler is not None:
                agent.call(profiler.disable)
                profiler.dump_stats(args.profile)
            counters = vars(pump.counters).copy()
            accepted = dict(agent.agent.router.accepted)
        finally:
            agent.stop()
        left = agent.outbox_total()
    return Drain(
        config=config,
        seconds=finished_at - start,
        uplink_s=uplink_done - start,
        first_confirm_s=progress[0][0] - start if progress else float("nan"),
        counters=counters,
        accepted=accepted,
        outbox_left=left,
        central_applied=central_applied(workdir),
        confirm_messages=len(progress),
    )


def print_profile(path: Path) -> None:
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative")
    print(f"\ncProfile of the agent's loop thread (written to {path}), edge_agent functions by cumulative time:\n")
    stats.print_stats(r"edge_agent/(store|sync)/", 14)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 ops (under a minute)")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_OPS} ops over {SMOKE_CARTS} carts (seconds)")
    parser.add_argument("--ops", type=int, default=None, help="backlog size (default 100,000; --quick 10,000)")
    parser.add_argument("--carts", type=int, default=None, help=f"default {CARTS}; --smoke {SMOKE_CARTS}")
    parser.add_argument("--central", choices=["proc", "inproc"], default="proc")
    parser.add_argument("--batch-max-ops", type=int, default=const.DEFAULT_BATCH_MAX_OPS)
    parser.add_argument("--window", type=int, default=const.DEFAULT_WINDOW)
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of the agent's loop thread")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--tcp-nodelay", action="store_true", help="diagnostic: Nagle off in the broker too")
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    n = args.ops or (SMOKE_OPS if args.smoke else 10_000 if args.quick else 100_000)
    args.carts = args.carts or (SMOKE_CARTS if args.smoke else CARTS)

    workdir = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    variant = " (diagnostic: TCP_NODELAY in the broker too)" if args.tcp_nodelay else ""
    print(f"# Backlog drain: {n:,} ops recorded offline, drained through the real agent{variant}\n")
    print(f"{datetime.date.today()}, {c.machine_line()}, {c.mosquitto_version()}")
    if args.keep:
        print(f"work directory {workdir} (kept)")
    print()
    rec_s, body_bytes = record_backlog(workdir / f"{DEVICE}.db", n, args.carts)
    broker = MosquittoBroker(workdir / "broker", listener_options=[c.BROKER_NODELAY_OPTION] if args.tcp_nodelay else ())
    broker.start()
    cpu_quota.exempt(broker.pid)  # the store's network, not the device
    try:
        raw = c.raw_publish_rate(broker.host, broker.port, n)
        result = drain(workdir, broker, n, args)
    finally:
        broker.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)

    cfg, counters, seconds = result.config, result.counters, result.seconds
    per_batch = counters["ops_published"] / max(1, counters["batches_published"])
    ops_rate = n / seconds
    print(
        c.md_table(
            ["figure", "ops or msgs", "seconds", "per second", "ratio to raw", "target"],
            [
                [
                    "agent drain, end to end (applied watermark)",
                    f"{n:,}",
                    f"{seconds:.2f}",
                    f"{ops_rate:,.0f} ops/s",
                    c.ratio(ops_rate, raw.rate),
                    f">= {TARGET_RATIO:.1f}x",
                ],
                [
                    "agent uplink only: every op PUBACKed by the broker",
                    f"{n:,}",
                    f"{result.uplink_s:.2f}",
                    f"{n / result.uplink_s:,.0f} ops/s",
                    c.ratio(n / result.uplink_s, raw.rate),
                    "",
                ],
                [
                    f"raw paho QoS 1 publish ({raw.payload_bytes} B, PUBACKs only)",
                    f"{raw.messages:,}",
                    f"{raw.seconds:.2f}",
                    f"{raw.rate:,.0f} msg/s",
                    "1.00x",
                    "",
                ],
            ],
        )
    )
    print()
    print(
        f"Agent config: batch_max_ops={cfg.mqtt.batch_max_ops}, window={cfg.mqtt.window}, "
        f"ack_timeout_s={cfg.mqtt.ack_timeout_s:g}, protocol {cfg.mqtt.protocol}; "
        f"central simulator {'in its own process' if args.central == 'proc' else 'in this process'}."
    )
    print(
        f"Backlog: {n:,} ops over {args.carts} carts, mean op body {body_bytes:.0f} B, recorded offline in "
        f"{rec_s:.1f} s ({n / rec_s:,.0f} ops/s, groups of {RECORD_GROUP})."
    )
    print(
        f"Drain: first confirmation after {result.first_confirm_s:.3f} s; "
        f"{counters['batches_published']:,} batches ({per_batch:.0f} ops each), "
        f"{counters['ops_published']:,} ops published "
        f"({counters['ops_published'] - n:,} resent), max in flight {counters['max_inflight_seen']}, "
        f"{counters['ack_timeouts']} ack timeouts, {result.confirm_messages:,} watermark messages confirmed rows, "
        f"inbound accepted {result.accepted}; outbox left {result.outbox_left}, "
        f"central applied {result.central_applied:,}."
    )
    if args.profile:
        print_profile(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
