"""Benchmark: a NATS node killed with a third of the fleet on it (issue 16): back, drained, reconnect storm, 0 lost.

Usage: python bench/bench_chain_failover.py [--quick | --smoke] [--workers N] [--devices N] [--stores S] [--ops K]

A 3-node NATS cluster (simulators/cluster.py: JetStream, MQTT 3.1.1, R3 streams), the platform, and N light
simulated devices (simulators/fleet) over S stores, device i trying node i mod 3 first, so each node carries a
third of the fleet. The platform is the issue's chain: ``--workers N`` (default 2) worker processes
(simulators/workers.py) over a private PostgreSQL 15 this bench starts on a free port (simulators/postgres.py),
on every node; ``--workers 0`` is the single-process central simulator (SQLite) on node 0 instead. The raw
ceiling is one paho 3.1.1 client's QoS 1 publish rate on node 1, measured in the same run.

1. Steady state: every device scans K products; the fleet drains (ops/s and applied latency p50/p99).
2. Failover: every device scans K more and node 1 is SIGKILLed at once; K more are scanned during the outage.
   From the kill: the last device connected again (the last CONNACK before the drain: a device back at once may be
   dropped again later), every device drained (its whole queue confirmed by the platform's watermark), reconnects
   per second (peak of 1 s buckets, and the spread from first to last) next to the number of devices that lost
   their node (what a lock-step fleet would do in one second), how many devices reconnected in all, ops sent again
   after T_ack, and which R3 streams the killed node led, which decide the figures: NATS stores an MQTT QoS 1
   publish in `$MQTT_msgs` before its PUBACK, so while that stream has no leader publishes stall and after 4 s NATS
   drops the client on every node (the whole fleet reconnects); a CONNECT needs `$MQTT_sess`.
3. Node 1 restarted (rejoins, catches up its R3 replicas); the time until it accepts MQTT again.
Then every platform cart is compared with what the fleet scanned, and the database's dedupe with the platform's
own count of what it applied: ops lost and ops applied twice (both must be 0).
The devices use the agent's default full-jitter bounds (base 1 s, cap 120 s) unless --smoke.
Nothing here asserts; it only prints.
"""

from __future__ import annotations

import argparse
import datetime
import math
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import _common as c
import _cpu_quota as cpu_quota  # also puts the repo on sys.path
import paho.mqtt.client as paho

from edge_agent import const as agent_const
from simulators.central import CentralPlatform
from simulators.cluster import NatsCluster
from simulators.fleet import DeviceSettings, Fleet
from simulators.postgres import PostgresServer
from simulators.workers import PlatformReader, WorkerPool

KILLED_NODE = 1
PLATFORM_NODE = 0
DRAIN_TIMEOUT_S = 600.0
SIZES = {"full": (900, 30, 10), "quick": (300, 20, 5), "smoke": (30, 5, 2)}
"""(devices, stores, ops per device per phase)."""
RAW_MESSAGES = {"full": 20_000, "quick": 5_000, "smoke": 300}
SMOKE_BACKOFF = (0.2, 2.0)
SMOKE_ACK_TIMEOUT_S = 5.0
"""T_ack in --smoke: a batch lost in a leaderless stream is sent again this much later (the fleet's default: 15 s)."""
DEFAULT_WORKERS = 2


@dataclass
class Dedupe:
    rows: int
    """Distinct (device, epoch, seq) in applied_ops: one per op, whoever applied it."""
    counted: int
    """The platform's own count of ops it applied as new (each worker's, written in its apply transactions)."""
    refused: int
    """Ops received again (resends after a reconnect, redeliveries) that the dedupe key refused."""


class Platform(Protocol):
    label: str

    def __enter__(self) -> Self: ...
    def __exit__(self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None) -> None: ...
    def carts(self, ids: Iterable[str]) -> dict[str, dict[str, int]]: ...
    def dedupe(self) -> Dedupe: ...


class CentralSide:
    """The single-process central simulator (SQLite) on node 0: the demo's and the single-store tests' platform."""

    label = "central simulator (one process, SQLite) on node 0"

    def __init__(self, workdir: Path, cluster: NatsCluster) -> None:
        host, port = cluster.mqtt_endpoints[PLATFORM_NODE]
        self.central = CentralPlatform(workdir / "central.db", host, port, protocol="3.1.1")

    def __enter__(self) -> Self:
        self.central.start()
        return self

    def __exit__(self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None) -> None:
        self.central.stop()

    def carts(self, ids: Iterable[str]) -> dict[str, dict[str, int]]:
        return {cart: self.central.cart(cart) for cart in ids}

    def dedupe(self) -> Dedupe:
        stats = self.central.stats
        return Dedupe(self.central.applied_count(), stats.ops_applied, stats.ops_duplicate)


class WorkersSide:
    """N worker processes over a private PostgreSQL (a fresh database), on every node: the issue's chain."""

    def __init__(self, workdir: Path, cluster: NatsCluster, n: int) -> None:
        self.label = f"{n} workers over PostgreSQL 15"
        self._workdir, self._cluster, self._n = workdir, cluster, n
        self._stack = ExitStack()

    def __enter__(self) -> Self:
        with ExitStack() as stack:
            pg = stack.enter_context(PostgresServer(self._workdir / "pg"))
            dsn = pg.create_database()
            pool = stack.enter_context(WorkerPool(self._cluster.nats_urls, dsn, self._workdir / "workers"))
            pool.start(self._n)  # before any device publishes: the stream captures uplinks from its creation on
            self.reader = PlatformReader(dsn)
            stack.callback(self.reader.close)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None) -> None:
        self._stack.close()

    def carts(self, ids: Iterable[str]) -> dict[str, dict[str, int]]:
        return {cart: self.reader.cart(cart) for cart in ids}

    def dedupe(self) -> Dedupe:
        return Dedupe(self.reader.applied_count(), self.reader.counted_by_workers(), self.reader.refused_by_dedupe())


@dataclass
class Result:
    devices: int
    stores: int
    ops_per_phase: int
    raw_rate: float
    connect_s: float
    steady_ops_s: float
    steady_p50_ms: float
    steady_p99_ms: float
    on_killed_node: int
    led: list[str]
    reconnected: int
    reconnects: int
    resent_after_timeout: int
    ack_timeout_s: float
    back_s: float
    drained_s: float
    peak_reconnects_s: int
    reconnect_spread_s: float
    restart_s: float
    lost: int
    applied_twice: int
    created: int
    dedupe: Dedupe
    platform: str


def compare(expected: dict[str, dict[str, int]], platform: dict[str, dict[str, int]]) -> tuple[int, int]:
    """(units missing at the platform, units beyond what was scanned): lost and applied twice."""
    lost = twice = 0
    for cart, want in expected.items():
        got = platform.get(cart, {})
        for sku in set(want) | set(got):
            diff = got.get(sku, 0) - want.get(sku, 0)
            lost += max(0, -diff)
            twice += max(0, diff)
    return lost, twice


def run(workdir: Path, size: str, devices: int, stores: int, ops: int, workers: int) -> Result:
    settings = DeviceSettings(
        backoff_base_s=agent_const.DEFAULT_BACKOFF_BASE_S, backoff_cap_s=agent_const.DEFAULT_BACKOFF_CAP_S
    )
    if size == "smoke":
        base, cap = SMOKE_BACKOFF
        settings = replace(settings, backoff_base_s=base, backoff_cap_s=cap, ack_timeout_s=SMOKE_ACK_TIMEOUT_S)
    with NatsCluster(workdir / "nats") as cluster:
        host, raw_port = cluster.mqtt_endpoints[KILLED_NODE]
        raw = c.raw_publish_rate(host, raw_port, RAW_MESSAGES[size], protocol=paho.MQTTv311)
        side: Platform = WorkersSide(workdir, cluster, workers) if workers else CentralSide(workdir, cluster)
        fleet = Fleet(workdir / "fleet", cluster.mqtt_endpoints, stores=stores, devices=devices, settings=settings)
        with side:
            try:
                fleet.start()
                connect_s = fleet.wait_connected(DRAIN_TIMEOUT_S)
                start = time.monotonic()
                fleet.add_ops(ops)
                fleet.wait_drained(DRAIN_TIMEOUT_S)
                steady_s = time.monotonic() - start
                steady = fleet.report()

                on_killed = len(fleet.devices_on(raw_port))
                connects_before = fleet.connects_by_device()
                victim = cluster.node_name(KILLED_NODE)
                led = sorted(name for name, leader in cluster.stream_leaders().items() if leader == victim)
                fleet.add_ops(ops)
                killed_at = time.monotonic()
                cluster.kill(KILLED_NODE)
                fleet.add_ops(ops)
                fleet.wait_drained(DRAIN_TIMEOUT_S)  # every device connected, every op confirmed
                drained_s = time.monotonic() - killed_at
                reconnects = [t - killed_at for t in fleet.connect_times() if t > killed_at]
                buckets = Counter(int(t) for t in reconnects)
                connects_after = fleet.connects_by_device()
                dropped = sum(connects_after[d] > n for d, n in connects_before.items())

                restart_at = time.monotonic()
                cluster.restart(KILLED_NODE)
                restart_s = time.monotonic() - restart_at
                report = fleet.report()
                expected = fleet.expected_carts()
                lost, surplus = compare(expected, side.carts(expected))
                dedupe = side.dedupe()
            finally:
                fleet.stop()
    return Result(
        devices=devices,
        stores=stores,
        ops_per_phase=ops,
        raw_rate=raw.rate,
        connect_s=connect_s,
        steady_ops_s=steady.created / steady_s,
        steady_p50_ms=steady.latency_p50_s * 1000,
        steady_p99_ms=steady.latency_p99_s * 1000,
        on_killed_node=on_killed,
        led=led,
        reconnected=dropped,
        reconnects=len(reconnects),
        resent_after_timeout=report.resent_after_timeout,
        ack_timeout_s=settings.ack_timeout_s,
        back_s=max(reconnects, default=math.nan),
        drained_s=drained_s,
        peak_reconnects_s=max(buckets.values(), default=0),
        reconnect_spread_s=(max(reconnects) - min(reconnects)) if reconnects else 0.0,
        restart_s=restart_s,
        lost=max(lost, report.created - dedupe.rows),
        applied_twice=max(surplus, dedupe.counted - dedupe.rows),
        created=report.created,
        dedupe=dedupe,
        platform=side.label,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 devices, 20 stores, 5 ops per phase")
    parser.add_argument("--smoke", action="store_true", help="30 devices, seconds; numbers meaningless")
    parser.add_argument("--devices", type=int)
    parser.add_argument("--stores", type=int)
    parser.add_argument("--ops", type=int, help="ops per device per phase")
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=f"platform worker processes over PostgreSQL (default {DEFAULT_WORKERS}); 0: the central simulator",
    )
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    devices, stores, ops = SIZES[size]
    devices, stores, ops = args.devices or devices, args.stores or stores, args.ops or ops
    workdir = Path(tempfile.mkdtemp(prefix="bench-chain-"))
    try:
        r = run(workdir, size, devices, stores, ops, args.workers)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"# A NATS node killed with a third of the fleet on it: {r.devices} devices, {r.stores} stores\n")
    print(f"{datetime.date.today()}, {c.machine_line()}, nats-server 2.9 (3 nodes, R3), platform: {r.platform}\n")
    print(
        c.md_table(
            ["figure", "value"],
            [
                ["raw ceiling: one paho 3.1.1 client, QoS 1 publish on a node", f"{r.raw_rate:,.0f} msg/s"],
                ["fleet start -> every device connected", f"{r.connect_s:.2f} s"],
                [
                    f"steady drain: {r.ops_per_phase} ops x {r.devices} devices, applied",
                    f"{r.steady_ops_s:,.0f} ops/s ({c.ratio(r.steady_ops_s, r.raw_rate)} the raw rate)",
                ],
                [
                    "steady applied latency p50 / p99 (scan committed -> watermark)",
                    f"{r.steady_p50_ms:.0f} / {r.steady_p99_ms:.0f} ms",
                ],
                ["devices on the killed node", f"{r.on_killed_node}"],
                ["streams the killed node led", ", ".join(r.led) or "none"],
                ["kill -> the last device connected again (none dropped after)", f"{r.back_s:.2f} s"],
                ["kill -> every device drained", f"{r.drained_s:.2f} s"],
                ["devices that reconnected after the kill / reconnects in all", f"{r.reconnected} / {r.reconnects}"],
                ["peak reconnects in one second (lock-step would be all of them)", f"{r.peak_reconnects_s}"],
                ["reconnects spread, first to last", f"{r.reconnect_spread_s:.2f} s"],
                [
                    f"ops sent again after T_ack ({r.ack_timeout_s:.0f} s, no watermark came)",
                    f"{r.resent_after_timeout}",
                ],
                ["killed node restarted -> accepting MQTT", f"{r.restart_s:.2f} s"],
                ["ops created / applied (distinct (device, epoch, seq) rows)", f"{r.created:,} / {r.dedupe.rows:,}"],
                [
                    "platform's own count of ops applied / resends refused by the dedupe key",
                    f"{r.dedupe.counted:,} / {r.dedupe.refused:,}",
                ],
                ["ops lost / applied twice", f"{r.lost} / {r.applied_twice}"],
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
