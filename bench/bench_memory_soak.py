"""Benchmark: does the agent's RSS stay flat over 1,000,000 scans and the snapshots that come back?

Usage: python bench/bench_memory_soak.py [--quick | --smoke] [--scans N] [--trace]

The real agent (``InProcessAgent``: real store, link, pump and inbound router) runs in this process against a
real Mosquitto; the central simulator runs in its own process (``_common.central_process``), so this process's
RSS is the agent's plus a thin driver. Simulated reader events (``ProductScanned``, what a camera or scanner
hands the loop) are submitted unpaced, as fast as the agent takes them, with at most ``BACKLOG`` scans not yet
confirmed by the platform (an unbounded backlog would measure the outbox, not a leak). The platform applies
every op, sends the applied watermark back and publishes a snapshot of each cart it touched, which the agent's
inbound router validates and applies: both directions run through the real contract. A new basket starts every
``BASKET`` scans (the shopper leaves), so carts come and go as in a store.

Figures: VmRSS and RssAnon of this process after every 10 % of the scans; the ratio of the last to the value
after the first 10,000 scans (the warm-up: caches, the first checkpoint, pydantic's lazily built validators).
Target: <= 1.05. --trace starts tracemalloc after the warm-up and prints the top growth by line at the end
(tracemalloc's own bookkeeping then counts in RSS: use it to find a leak, not for the figure).
--smoke: 20,000 scans, to prove the bench still runs.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import _common as c  # also puts the repo on sys.path
import _cpu_quota as cpu_quota

from simulators.camera import DEMO_CODES
from tests.support.broker import MosquittoBroker
from tests.support.world import InProcessAgent

DEVICE = "kiosk-01"
FULL, QUICK, SMOKE = 1_000_000, 100_000, 20_000
WARMUP = 10_000
"""The reference point: RSS after this many scans, once caches and lazily built validators have settled."""
TARGET_RATIO = 1.05
BACKLOG = 2_000
"""Most scans submitted and not yet confirmed by the platform (the driver waits below it)."""
CHUNK = 100
"""Scans handed to the loop at once (one call_soon_threadsafe each)."""
BASKET = 2_000
"""Scans per basket: 5 products x 400, under the per-line quantity cap (domain/const.py MAX_LINE_QTY); unpaced,
baskets then end about as fast as the heartbeat purges them (roles/sessions.py PURGES_PER_TICK)."""
SAMPLES = 10
WAIT_S = 120.0
"""Bounded waits only: far above any expected figure; a stuck run ends with an error."""
SKUS = tuple("0" + code for code in DEMO_CODES)
TRACE_TOP = 15


def status_kb() -> dict[str, int]:
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return {k: int(fields[k].split()[0]) for k in ("VmRSS", "RssAnon", "VmHWM")}


class Confirmations:
    """Ops the platform confirmed (the pump's on_confirmed, called on the agent's loop)."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def add(self, n: int) -> None:
        with self.changed:
            self.count += n
            self.changed.notify_all()

    def wait_at_least(self, n: int, timeout: float) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: self.count >= n, timeout):
                raise RuntimeError(f"platform confirmed {self.count} of {n} ops within {timeout:g} s")


def soak(workdir: Path, broker: MosquittoBroker, n: int, trace: bool) -> dict[str, Any]:
    config = c.production_config(workdir, broker.port, DEVICE)
    # Ended guest baskets are purged as soon as they are synced (the default keeps them an hour).
    session = config.session.model_copy(update={"anonymous_retention_s": 0.0})
    config = config.model_copy(update={"session": session})
    rows: list[list[object]] = []
    growth: list[Any] = []
    with c.central_process(workdir / "central.db", broker.host, broker.port, workdir / "central.log"):
        agent = InProcessAgent(config).start()
        try:
            assert agent.agent is not None
            inner = agent.agent
            c.wait_connected(agent, WAIT_S)
            confirmed = Confirmations()
            inner.pump.on_confirmed = confirmed.add
            every = max(WARMUP, n // SAMPLES)
            started = time.perf_counter()
            reference: dict[str, int] | None = None
            baseline: tracemalloc.Snapshot | None = None
            submitted = 0
            while submitted < n:
                confirmed.wait_at_least(submitted - BACKLOG, WAIT_S)
                for _ in range(min(CHUNK, n - submitted)):
                    if submitted and submitted % BASKET == 0:  # the shopper leaves: a fresh basket
                        agent.call(inner.basket.end_session)
                    agent.scan(SKUS[submitted % len(SKUS)])
                    submitted += 1
                if submitted in (WARMUP, n) or submitted % every == 0:
                    confirmed.wait_at_least(submitted, WAIT_S)  # settled: nothing in flight at a sample
                    gc.collect()
                    kb = status_kb()
                    if submitted == WARMUP:
                        reference = kb
                        if trace:
                            tracemalloc.start(1)
                            baseline = tracemalloc.take_snapshot()
                    ref = reference or kb
                    rows.append(
                        [
                            f"{submitted:,}",
                            f"{time.perf_counter() - started:.0f}",
                            f"{kb['VmRSS'] / 1024:.1f}",
                            f"{kb['RssAnon'] / 1024:.1f}",
                            c.ratio(kb["VmRSS"], ref["VmRSS"]),
                        ]
                    )
            if baseline is not None:
                growth = tracemalloc.take_snapshot().compare_to(baseline, "lineno")[:TRACE_TOP]
                tracemalloc.stop()
            elapsed = time.perf_counter() - started
            accepted = dict(inner.router.accepted)
            rejected = dict(inner.router.rejected)
            outbox = agent.outbox_total()
        finally:
            agent.stop()
    assert reference is not None
    end = status_kb()
    return {
        "rows": rows,
        "reference": reference,
        "end": end,
        "elapsed": elapsed,
        "accepted": accepted,
        "rejected": rejected,
        "outbox": outbox,
        "growth": growth,
        "confirmed": confirmed.count,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK:,} scans")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE:,} scans")
    parser.add_argument("--scans", type=int, default=None, help=f"default {FULL:,}")
    parser.add_argument("--trace", action="store_true", help="tracemalloc after the warm-up: top growth by line")
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    n = args.scans or (SMOKE if args.smoke else QUICK if args.quick else FULL)
    if n < WARMUP:
        parser.error(f"--scans must be at least the warm-up, {WARMUP:,}")

    print(f"# Memory soak: {n:,} scans and the snapshots that come back, unpaced\n")
    print(f"{datetime.date.today()}, {c.machine_line()}, {c.mosquitto_version()}\n")
    workdir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    broker = MosquittoBroker(workdir / "broker")
    broker.start()
    cpu_quota.exempt(broker.pid)
    try:
        res = soak(workdir, broker, n, args.trace)
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    ref, last = res["reference"], res["rows"][-1]
    print(c.md_table(["scans", "s", "VmRSS MB", "RssAnon MB", "VmRSS / after 10,000"], res["rows"]))
    print()
    ratio = float(str(last[-1]).rstrip("x"))
    verdict = "met" if ratio <= TARGET_RATIO else "missed"
    print(
        c.md_table(
            ["figure", "value", "target"],
            [
                ["VmRSS after 10,000 scans MB", f"{ref['VmRSS'] / 1024:.1f}", ""],
                [f"VmRSS after {n:,} scans MB", last[2], ""],
                ["ratio", last[-1], f"<= {TARGET_RATIO:g} ({verdict})"],
                ["VmHWM of the process MB", f"{res['end']['VmHWM'] / 1024:.1f}", ""],
            ],
        )
    )
    accepted = ", ".join(f"{k} {v:,}" for k, v in sorted(res["accepted"].items()))
    rejected = ", ".join(f"{k} {v:,}" for k, v in sorted(res["rejected"].items())) or "none"
    print(
        f"\n{n:,} scans in {res['elapsed']:.0f} s ({n / res['elapsed']:,.0f} scans/s, at most {BACKLOG:,} "
        f"unconfirmed); the platform confirmed {res['confirmed']:,} ops, {res['outbox']} left in the outbox; a new "
        f"basket every {BASKET} scans. Inbound accepted: {accepted}; rejected: {rejected}. RSS is this process's: "
        f"the agent and the driver (the central simulator runs in its own process), after gc.collect() with "
        f"nothing in flight."
    )
    if res["growth"]:
        print("\ntracemalloc, growth after the warm-up (top lines):\n")
        top = [[str(s.traceback[0]), f"{s.size_diff / 1024:+.0f}", f"{s.count_diff:+d}"] for s in res["growth"]]
        print(c.md_table(["line", "KB", "blocks"], top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
