"""Benchmark: a NATS node killed with a third of the fleet on it (issue 16): back, drained, reconnect storm, 0 lost.

Usage: python bench/bench_chain_failover.py [--quick | --smoke] [--devices N] [--stores S] [--ops K]

A 3-node NATS cluster (simulators/cluster.py: JetStream, MQTT 3.1.1, R3 streams), the reference central simulator
on node 0 (in this process, MQTT 3.1.1), and N light simulated devices (simulators/fleet) over S stores, device i
trying node i mod 3 first, so each node carries a third of the fleet. The raw ceiling is one paho 3.1.1 client's
QoS 1 publish rate on node 1, measured in the same run.

1. Steady state: every device scans K products; the fleet drains (ops/s and applied latency p50/p99).
2. Failover: every device scans K more and node 1 is SIGKILLed at once; K more are scanned during the outage.
   From the kill: every device connected again, every device drained (its whole queue confirmed by the platform's
   watermark), reconnects per second (peak of 1 s buckets, and the spread from first to last) next to the number
   of devices that lost their node (what a lock-step fleet would do in one second).
3. Node 1 restarted (rejoins, catches up its R3 replicas); the time until it accepts MQTT again.
Then every platform cart is compared with what the fleet scanned: ops lost and ops applied twice (both must be 0).
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
from dataclasses import dataclass
from pathlib import Path

import _common as c
import _cpu_quota as cpu_quota  # also puts the repo on sys.path
import paho.mqtt.client as paho

from edge_agent import const as agent_const
from simulators.central import CentralPlatform
from simulators.cluster import NatsCluster
from simulators.fleet import DeviceSettings, Fleet

KILLED_NODE = 1
PLATFORM_NODE = 0
DRAIN_TIMEOUT_S = 600.0
BACK_POLL_S = 0.05
SIZES = {"full": (900, 30, 10), "quick": (300, 20, 5), "smoke": (30, 5, 2)}
"""(devices, stores, ops per device per phase)."""
RAW_MESSAGES = {"full": 20_000, "quick": 5_000, "smoke": 300}
SMOKE_BACKOFF = (0.2, 2.0)


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
    back_s: float
    drained_s: float
    peak_reconnects_s: int
    reconnect_spread_s: float
    restart_s: float
    lost: int
    applied_twice: int
    created: int
    applied: int


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


def run(workdir: Path, size: str, devices: int, stores: int, ops: int) -> Result:
    base, cap = (
        SMOKE_BACKOFF if size == "smoke" else (agent_const.DEFAULT_BACKOFF_BASE_S, agent_const.DEFAULT_BACKOFF_CAP_S)
    )
    settings = DeviceSettings(backoff_base_s=base, backoff_cap_s=cap)
    with NatsCluster(workdir / "nats") as cluster:
        host, raw_port = cluster.mqtt_endpoints[KILLED_NODE]
        raw = c.raw_publish_rate(host, raw_port, RAW_MESSAGES[size], protocol=paho.MQTTv311)
        p_host, p_port = cluster.mqtt_endpoints[PLATFORM_NODE]
        central = CentralPlatform(workdir / "central.db", p_host, p_port, protocol="3.1.1").start()
        fleet = Fleet(workdir / "fleet", cluster.mqtt_endpoints, stores=stores, devices=devices, settings=settings)
        try:
            fleet.start()
            connect_s = fleet.wait_connected(DRAIN_TIMEOUT_S)
            start = time.monotonic()
            fleet.add_ops(ops)
            fleet.wait_drained(DRAIN_TIMEOUT_S)
            steady_s = time.monotonic() - start
            steady = fleet.report()

            on_killed = len(fleet.devices_on(raw_port))
            fleet.add_ops(ops)
            killed_at = time.monotonic()
            cluster.kill(KILLED_NODE)
            fleet.add_ops(ops)
            back_s = math.nan
            while time.monotonic() - killed_at < DRAIN_TIMEOUT_S:
                if fleet.report().connected == devices:
                    back_s = time.monotonic() - killed_at
                    break
                time.sleep(BACK_POLL_S)
            fleet.wait_drained(DRAIN_TIMEOUT_S)
            drained_s = time.monotonic() - killed_at
            reconnects = [t - killed_at for t in fleet.connect_times() if t > killed_at]
            buckets = Counter(int(t) for t in reconnects)

            restart_at = time.monotonic()
            cluster.restart(KILLED_NODE)
            restart_s = time.monotonic() - restart_at
            report = fleet.report()
            lost, twice = compare(fleet.expected_carts(), central.carts())
            applied = sum(central.applied_count(d) for d in {cart.removesuffix("-basket") for cart in central.carts()})
        finally:
            fleet.stop()
            central.stop()
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
        back_s=back_s,
        drained_s=drained_s,
        peak_reconnects_s=max(buckets.values(), default=0),
        reconnect_spread_s=(max(reconnects) - min(reconnects)) if reconnects else 0.0,
        restart_s=restart_s,
        lost=lost,
        applied_twice=twice,
        created=report.created,
        applied=applied,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 devices, 20 stores, 5 ops per phase")
    parser.add_argument("--smoke", action="store_true", help="30 devices, seconds; numbers meaningless")
    parser.add_argument("--devices", type=int)
    parser.add_argument("--stores", type=int)
    parser.add_argument("--ops", type=int, help="ops per device per phase")
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    devices, stores, ops = SIZES[size]
    devices, stores, ops = args.devices or devices, args.stores or stores, args.ops or ops
    workdir = Path(tempfile.mkdtemp(prefix="bench-chain-"))
    try:
        r = run(workdir, size, devices, stores, ops)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"# A NATS node killed with a third of the fleet on it: {r.devices} devices, {r.stores} stores\n")
    print(f"{datetime.date.today()}, {c.machine_line()}, nats-server 2.9 (3 nodes, R3), central simulator on node 0\n")
    print(
        c.md_table(
            ["figure", "value"],
            [
                ["raw ceiling: one paho 3.1.1 client, QoS 1 publish on a node", f"{r.raw_rate:,.0f} msg/s"],
                ["fleet start -> every device connected", f"{r.connect_s:.2f} s"],
                [f"steady drain: {r.ops_per_phase} ops x {r.devices} devices, applied", f"{r.steady_ops_s:,.0f} ops/s"],
                [
                    "steady applied latency p50 / p99 (scan committed -> watermark)",
                    f"{r.steady_p50_ms:.0f} / {r.steady_p99_ms:.0f} ms",
                ],
                ["devices on the killed node", f"{r.on_killed_node}"],
                ["kill -> every device connected again", f"{r.back_s:.2f} s"],
                ["kill -> every device drained", f"{r.drained_s:.2f} s"],
                ["peak reconnects in one second (lock-step would be all of them)", f"{r.peak_reconnects_s}"],
                ["reconnects spread, first to last", f"{r.reconnect_spread_s:.2f} s"],
                ["killed node restarted -> accepting MQTT", f"{r.restart_s:.2f} s"],
                ["ops created / applied", f"{r.created:,} / {r.applied:,}"],
                ["ops lost / applied twice", f"{r.lost} / {r.applied_twice}"],
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
