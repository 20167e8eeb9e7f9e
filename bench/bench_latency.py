"""Benchmark: scan-to-platform latency, one scan at a time, through the real agent and a real Mosquitto.

Usage: python bench/bench_latency.py [--quick | --smoke] [--scans N] [--basket-size K] [--tcp-nodelay]

Each scan is a ProductScanned event submitted to the running agent (InProcessAgent); the next scan goes in
only once the central simulator has applied the previous one. Four instants per scan:
- submitted (the reader hands the event to the agent's loop),
- committed (DeviceStore.record returned: the op is durable, the UI may say "saved"),
- applied (the central's transaction for the batch committed; a CentralPlatform subclass stamps it),
- confirmed (the applied watermark came back and the device deleted the outbox row).

Ceilings from the same run on the same broker: the raw paho QoS 1 round trip (publish from one client,
on_message in another) and one SQLite WAL + synchronous=FULL commit of a 300-byte row (the e2e path holds
at least three such commits in series: device record, device lease, platform apply).

A kiosk basket holds a few dozen items, so the agent starts a new basket every --basket-size scans (the
shopper's session ends, as after a checkout); one ever-growing basket would measure snapshot size instead of
latency. The agent's and the central's paho sockets always have Nagle off (edge_agent.sync.link and the
simulator set TCP_NODELAY themselves); --tcp-nodelay is a diagnostic, not the project's figure: it turns Nagle
off in Mosquitto too (set_tcp_nodelay). --smoke: a few scans, to prove the bench still runs (numbers meaningless).
Every path reports p50/p99/p99.9/max (a stall hides in the tail: a checkpoint or a collection on the loop
thread shows as one max of hundreds of ms). Targets over 10,000 scans: scan -> applied p99 <= 5 ms and
max <= 50 ms. Nothing here asserts a time; it only prints.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c  # also puts the repo on sys.path
import _cpu_quota as cpu_quota
from _timed_central import CentralProcess, GcPauses, thread_cpu_s

from edge_agent.store.db import connect
from simulators.camera import DEMO_CODES
from tests.support.broker import MosquittoBroker
from tests.support.world import InProcessAgent

DEVICE = "kiosk-01"
TARGET_P99_MS = 5.0
TARGET_MAX_MS = 50.0
SLOWEST_SHOWN = 5
"""The slowest scans whose timelines are printed (where the max came from)."""
FULL_SCANS = 10_000
QUICK_SCANS = 300
WARMUP_SCANS = 10
WAIT_S = 30.0
SKUS = tuple("0" + code for code in DEMO_CODES)
CENTRAL_WHERE = {"proc": "in its own process", "inproc": "in this process (a thread, sharing the GIL)"}
SMOKE_SCANS = 20
SMOKE_BASKET = 10
"""--smoke: 30 scans with the warm-up, so two new baskets are started, as in a full run."""


def raw_commit_latencies(workdir: Path, n: int) -> list[float]:
    """One INSERT of a 300-byte row per COMMIT, WAL + synchronous=FULL: the fsync floor of each local step."""
    conn = sqlite3.connect(workdir / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    body = "x" * c.RAW_PAYLOAD_BYTES
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", (body,))
        conn.execute("COMMIT")
        samples.append(time.perf_counter() - start)
    conn.close()
    return samples


def p999_ms(samples_s: list[float]) -> float:
    return c.percentile([v * 1000 for v in samples_s], 99.9)


def tail_ms(samples_s: list[float]) -> list[str]:
    """p50, p99, p99.9, max and mean as milliseconds for a table row."""
    p50, p99, top, mean = c.summary_ms(samples_s)
    return [f"{v:.2f}" for v in (p50, p99, p999_ms(samples_s), top, mean)]


def cpu_ms_per_scan(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    return {name: (after[name] - before.get(name, 0.0)) * 1000 / n for name in after if name in before}


def start_central(workdir: Path, broker: MosquittoBroker, where: str) -> Any:
    """The platform simulator: its own process (the default: a platform is another machine, and in this process
    its apply would wait for the agent's GIL) or, with --central inproc, a thread of this one, as before."""
    if where == "inproc":
        return c.TimedCentral(workdir / "central.db", broker.host, broker.port).start()
    central = CentralProcess(workdir / "central.db", broker.host, broker.port).start()
    cpu_quota.exempt(central.pid)
    return central


def run_scans(
    workdir: Path, broker: MosquittoBroker, n: int, basket_size: int, where: str, gap_s: float
) -> dict[str, Any]:
    config = c.production_config(workdir, broker.port, DEVICE)
    central = start_central(workdir, broker, where)
    agent = InProcessAgent(config).start()
    try:
        assert agent.agent is not None
        inner = agent.agent
        c.wait_connected(agent, WAIT_S)
        pragmas = agent.call(
            lambda: {
                name: inner.store.conn.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "synchronous")
            }
        )
        # PRAGMA synchronous is per connection: read it on one opened as the simulator opens its own
        # (edge_agent.store.db.connect, which also asserts it and refuses a database without it).
        probe = connect(central.db_path)
        try:
            central_sync = probe.execute("PRAGMA synchronous").fetchone()[0]
        finally:
            probe.close()

        commit_times = c.time_commits(agent)
        committed = commit_times.perf
        confirmed: list[float] = []

        def on_confirmed(count: int) -> None:
            now = time.perf_counter()
            confirmed.extend(now for _ in range(count))

        inner.pump.on_confirmed = on_confirmed

        submitted: list[float] = []
        gc_pauses = GcPauses()
        gc.callbacks.append(gc_pauses)
        for i in range(WARMUP_SCANS + n):
            if i == WARMUP_SCANS:
                cpu0, threads0, written0 = time.process_time(), thread_cpu_s(), c.process_write_bytes()
            if i and i % basket_size == 0:  # the shopper leaves: the next one gets a fresh basket
                agent.call(inner.basket.end_session)
            submitted.append(time.perf_counter())
            agent.scan(SKUS[i % len(SKUS)])
            central.wait_applied(i + 1, WAIT_S)
            if gap_s:
                time.sleep(gap_s)
        cpu1, threads1, written1 = time.process_time(), thread_cpu_s(), c.process_write_bytes()
        gc.callbacks.remove(gc_pauses)
        # The last watermark may still be on its way back.
        deadline = time.monotonic() + WAIT_S
        while len(confirmed) < len(submitted) and time.monotonic() < deadline:
            time.sleep(0.01)
        counters = vars(inner.pump.counters).copy()
        accepted = dict(inner.router.accepted)
        checkpointer = getattr(inner, "checkpoints", None)  # None before the agent had a checkpoint thread
        checkpoints = vars(checkpointer.counters).copy() if checkpointer is not None else {}
    finally:
        agent.stop()
        central.stop()
    w = WARMUP_SCANS
    sub = submitted[w:]
    return {
        "pragmas": pragmas,
        "central_synchronous": central_sync,
        "commit": [b - a for a, b in zip(sub, committed[w:], strict=True)],
        "applied": [b - a for a, b in zip(sub, central.applied_at[w:], strict=True)],
        "confirmed": [b - a for a, b in zip(sub, confirmed[w:], strict=False)],
        "counters": counters,
        "accepted": accepted,
        "checkpoints": checkpoints,
        "cpu_ms_per_scan": (cpu1 - cpu0) * 1000 / n,
        "kb_written_per_scan": (written1 - written0) / 1024 / n
        if written0 is not None and written1 is not None
        else None,
        "threads_ms_per_scan": cpu_ms_per_scan(threads0, threads1, n),
        "central_handle": getattr(central, "handle_s", [])[w:],
        "central_cpu_ms_per_scan": getattr(central, "cpu_s", 0.0) * 1000 / (n + w),
        "central_threads_ms_per_scan": {k: v * 1000 / (n + w) for k, v in getattr(central, "threads_s", {}).items()},
        "central_counts": getattr(central, "counts", {}),
        "submitted": sub,
        "committed_at": committed[w:],
        "record_began": commit_times.began[w:],
        "applied_at": central.applied_at[w:],
        "taken_at": getattr(central, "taken_at", [])[w:],
        "received_at": getattr(central, "received_at", [])[w:],
        "gc": {"agent": gc_pauses.pauses, "central": getattr(central, "gc", [])},
    }


def gc_line(pauses: list[tuple[float, float]]) -> str:
    if not pauses:
        return "none"
    longest = max(d for _s, d in pauses) * 1000
    return f"{len(pauses)}, longest {longest:.2f} ms, {sum(d for _s, d in pauses) * 1000:.1f} ms in all"


def slowest_timelines(res: dict[str, Any]) -> list[list[str]]:
    """The slowest scans by scan -> applied: when each step came (ms from the submit: the device's record began
    (until then the scan waited for the agent's loop), committed, read by the central's paho thread, its apply
    begun, applied) and what garbage collection, in the agent's process or the central's, fell inside the scan's
    window."""
    sub, applied, taken, received = res["submitted"], res["applied_at"], res["taken_at"], res["received_at"]
    order = sorted(range(len(sub)), key=lambda i: applied[i] - sub[i], reverse=True)[:SLOWEST_SHOWN]
    rows = []
    for i in order:
        start, end = sub[i], applied[i]
        gcs = [
            f"{side} {d * 1000:.1f} ms"
            for side, pauses in res["gc"].items()
            for at, d in pauses
            if at < end and at + d > start
        ]
        rows.append(
            [
                str(i),
                f"{(res['record_began'][i] - start) * 1000:.2f}",
                f"{(res['committed_at'][i] - start) * 1000:.2f}",
                f"{(received[i] - start) * 1000:.2f}" if received else "",
                f"{(taken[i] - start) * 1000:.2f}" if taken else "",
                f"{(end - start) * 1000:.2f}",
                f"{(end - applied[i - 1]) * 1000:.2f}" if i else "",
                ", ".join(gcs) or "none",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SCANS} scans (under a minute)")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_SCANS} scans, baskets of {SMOKE_BASKET}")
    parser.add_argument("--scans", type=int, default=None, help=f"default {FULL_SCANS:,}; --quick {QUICK_SCANS}")
    parser.add_argument("--basket-size", type=int, default=None, help="scans per basket before a new one (50)")
    parser.add_argument("--tcp-nodelay", action="store_true", help="diagnostic: Nagle off in the broker too")
    parser.add_argument(
        "--central", choices=("proc", "inproc"), default="proc", help="the platform simulator's process (proc)"
    )
    parser.add_argument(
        "--gap-ms",
        type=float,
        default=0.0,
        help="pause after each applied scan before the next (0: back to back; a shopper's pace is hundreds of ms)",
    )
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    n = args.scans or (SMOKE_SCANS if args.smoke else QUICK_SCANS if args.quick else FULL_SCANS)
    basket_size = args.basket_size or (SMOKE_BASKET if args.smoke else 50)

    workdir = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    variant = " (diagnostic: TCP_NODELAY in the broker too)" if args.tcp_nodelay else ""
    print(f"# Scan -> platform latency: {n:,} sequential scans through the real agent{variant}\n")
    print(f"{datetime.date.today()}, {c.machine_line()}, {c.mosquitto_version()}\n")
    gap = f"{args.gap_ms:g} ms between an applied scan and the next" if args.gap_ms else "scans back to back"
    print(f"The central simulator {CENTRAL_WHERE[args.central]}; {gap}.\n")
    broker = MosquittoBroker(workdir / "broker", listener_options=[c.BROKER_NODELAY_OPTION] if args.tcp_nodelay else ())
    broker.start()
    cpu_quota.exempt(broker.pid)
    try:
        raw_rtt = c.raw_round_trips(broker.host, broker.port, n)
        raw_commit = raw_commit_latencies(workdir, n)  # as many as scans: the tails compare like with like
        res = run_scans(workdir, broker, n, basket_size, args.central, args.gap_ms / 1000)
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    applied_p99, applied_max = c.summary_ms(res["applied"])[1:3]
    rtt_p50, rtt_p99, rtt_max = c.summary_ms(raw_rtt)[:3]
    headers = ["path", "samples", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "mean ms"]
    print(
        c.md_table(
            headers,
            [
                ["agent: scan -> committed locally (durable)", len(res["commit"]), *tail_ms(res["commit"])],
                ["agent: scan -> applied by the platform", len(res["applied"]), *tail_ms(res["applied"])],
                ["agent: scan -> watermark back, row deleted", len(res["confirmed"]), *tail_ms(res["confirmed"])],
                ["raw paho QoS 1 round trip (300 B)", len(raw_rtt), *tail_ms(raw_rtt)],
                ["raw SQLite commit, WAL + FULL (300 B row)", len(raw_commit), *tail_ms(raw_commit)],
            ],
        )
    )
    print()
    applied_p50 = c.summary_ms(res["applied"])[0]
    print(
        c.md_table(
            ["figure", "agent", "raw round trip", "ratio", "target"],
            [
                ["scan -> applied p50 ms", f"{applied_p50:.2f}", f"{rtt_p50:.2f}", c.ratio(applied_p50, rtt_p50), ""],
                [
                    "scan -> applied p99 ms",
                    f"{applied_p99:.2f}",
                    f"{rtt_p99:.2f}",
                    c.ratio(applied_p99, rtt_p99),
                    f"<= {TARGET_P99_MS:g} ms",
                ],
                [
                    "scan -> applied p99.9 ms",
                    f"{p999_ms(res['applied']):.2f}",
                    f"{p999_ms(raw_rtt):.2f}",
                    c.ratio(p999_ms(res["applied"]), p999_ms(raw_rtt)),
                    "",
                ],
                [
                    "scan -> applied max ms",
                    f"{applied_max:.2f}",
                    f"{rtt_max:.2f}",
                    c.ratio(applied_max, rtt_max),
                    f"<= {TARGET_MAX_MS:g} ms",
                ],
            ],
        )
    )
    print()
    p = res["pragmas"]
    print(
        f"Durability in force: agent DB journal_mode={p['journal_mode']}, synchronous={p['synchronous']} "
        f"(2 = FULL); central DB synchronous={res['central_synchronous']}."
    )
    k = res["counters"]
    print(
        f"Pump: {k['batches_published']} batches for {k['ops_published']} ops, {k['ack_timeouts']} ack timeouts; "
        f"inbound accepted {res['accepted']}; a new basket every {basket_size} scans; "
        f"{WARMUP_SCANS} warm-up scans not counted. Agent WAL checkpoints, off the loop thread: "
        f"{res['checkpoints']}."
    )
    kb = res["kb_written_per_scan"]
    if kb is not None:
        print(
            "Written to storage by this process during the scans (/proc/self/io: the WAL and the checkpoints): "
            f"{kb:.2f} KB per scan."
        )
    threads = ", ".join(f"{name} {ms:.3f}" for name, ms in sorted(res["threads_ms_per_scan"].items()) if ms >= 0.001)
    where = "agent, bench driver" + (" and central simulator" if args.central == "inproc" else "")
    print(
        f"CPU per scan (the load disturbs it less than wall time): this process ({where}) "
        f"{res['cpu_ms_per_scan']:.3f} ms; by thread, ms: {threads}."
    )
    if res["central_handle"]:
        h50, h99, hmax = c.summary_ms(res["central_handle"])[:3]
        print(
            f"Central simulator (own process): handle of what arrived together, ops included (one transaction: "
            f"decode, apply, COMMIT, watermarks out) p50 {h50:.2f} / p99 {h99:.2f} / max {hmax:.2f} ms; its CPU "
            f"{res['central_cpu_ms_per_scan']:.3f} ms per scan (snapshots and events included); by thread, ms: "
            + ", ".join(f"{k} {v:.3f}" for k, v in sorted(res["central_threads_ms_per_scan"].items()) if v >= 0.001)
            + f"; {res['central_counts']} over the whole run (startup and warm-up included)."
        )
    if res["received_at"]:
        waited = [t - r for r, t in zip(res["received_at"], res["taken_at"], strict=True)]
        applying = [a - t for t, a in zip(res["taken_at"], res["applied_at"], strict=True)]
        w50, w99, wmax = c.summary_ms(waited)[:3]
        a50, a99, amax = c.summary_ms(applying)[:3]
        print(
            "At the central, per scan: read by paho's thread -> its apply began (waiting behind what was being "
            f"applied) p50 / p99 / max {w50:.2f} / {w99:.2f} / {wmax:.2f} ms; apply began -> applied "
            f"{a50:.2f} / {a99:.2f} / {amax:.2f} ms."
        )
    print(f"Garbage collections during the scans: agent process {gc_line(res['gc']['agent'])}; ", end="")
    print(f"central {gc_line(res['gc']['central'])}.\n")
    print(f"The {SLOWEST_SHOWN} slowest scans (ms from the submit):\n")
    print(
        c.md_table(
            [
                "scan",
                "its record began",
                "committed",
                "central's paho thread read it",
                "its apply began",
                "applied",
                "since the previous applied",
                "garbage collection inside",
            ],
            slowest_timelines(res),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
