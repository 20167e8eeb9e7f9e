"""Benchmark: the platform as N workers over one PostgreSQL (issue 16): ops/s applied by 1, 2 and 4 workers next
to the cluster's raw MQTT QoS 1 publish rate, applied latency p50/p99, and platform CPU/memory per 1,000 devices.

Usage: python bench/bench_platform_workers.py [--quick | --smoke] [--growth 500,2000,4000]

A 3-node NATS cluster (simulators/cluster.py), a private PostgreSQL 15 (simulators/postgres.py), worker processes
(``python -m simulators.workers``) and light simulated devices (simulators/fleet) in this process.

1. Raw ceiling: one paho 3.1.1 client's QoS 1 publish rate on node 1, 300 B messages, in the same run.
2. Throughput, per worker count N (a fresh database each): the workers create the stream and stop; the fleet
   publishes its whole backlog into the stream (PUBACKed, nobody applying); then N workers start and the figure is
   ops applied per second between the first and the last apply (applied_ops.applied_at, the workers' clock);
   all N are launched side by side, so none drains the backlog alone while the others import.
3. Latency, with the N workers running: a fresh, small fleet (40 devices) scans one product per device every 0.25 s;
   the fleet's own created -> confirmed-by-watermark time (p50/p99) is the end-to-end applied latency.
4. Growth, with 2 workers: fleets of 500, 2,000 and more devices connected, each scanning once; over a window the
   CPU (utime + stime, % of one core) and RSS of the NATS nodes and of the workers, and per 1,000 devices above
   the same figures with no device connected.
Nothing here asserts; it only prints.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import _common as c  # also puts the repo on sys.path
import nats
import paho.mqtt.client as paho

from simulators.cluster import NatsCluster
from simulators.fleet import DeviceSettings, Fleet
from simulators.platform.const import UPLINK_STREAM
from simulators.platform.worker import ensure_uplink
from simulators.postgres import PostgresServer
from simulators.workers import PlatformReader, WorkerPool, WorkerProcess

RAW_NODE = 1
SIZES = {"full": (400, 20, 100, 20_000), "quick": (200, 20, 50, 5_000), "smoke": (20, 4, 5, 300)}
"""(devices, stores, ops per device of the backlog, raw messages)."""
WORKER_COUNTS = {"full": (1, 2, 4), "quick": (1, 2, 4), "smoke": (1, 2)}
LATENCY_ROUNDS = {"full": 20, "quick": 10, "smoke": 1}
LATENCY_DEVICES = {"full": 40, "quick": 20, "smoke": 5}
"""Few enough that a round (one op each, every LATENCY_GAP_S) stays well under the workers' capacity: latency, not
queueing behind a saturated platform."""
LATENCY_GAP_S = 0.25
GROWTH = {"full": (500, 2000, 4000), "quick": (500, 2000), "smoke": (50,)}
GROWTH_WINDOW_S = {"full": 20.0, "quick": 10.0, "smoke": 1.0}
BACKLOG_SETTLE_S = 1.0
"""The stream's message count must hold still this long before the backlog counts as published."""
TIMEOUT_S = 600.0
POLL_S = 0.05
NO_RESEND = DeviceSettings(ack_timeout_s=TIMEOUT_S)
"""During the backlog nobody applies: a device must not resend what only waits in the stream."""
CLK_TCK = os.sysconf("SC_CLK_TCK")
MB = 1024


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def _stream_messages(urls: list[str]) -> int:
    nc = await nats.connect(servers=urls)
    try:
        info = await nc.jetstream().stream_info(UPLINK_STREAM)
        return int(info.state.messages)
    finally:
        await nc.close()


async def _ensure_uplink(urls: list[str]) -> None:
    nc = await nats.connect(servers=urls)
    try:
        await ensure_uplink(nc.jetstream(), replicas=3)
    finally:
        await nc.close()


@dataclass
class Throughput:
    workers: int
    ops: int
    messages: int
    seconds: float
    p50_ms: float
    p99_ms: float


@dataclass
class Growth:
    devices: int
    connected: int
    nats_cpu_pct: float
    nats_rss_mb: float
    workers_cpu_pct: float
    workers_rss_mb: float


def throughput(workdir: Path, cluster: NatsCluster, pg: PostgresServer, n: int, size: str) -> Throughput:
    devices, stores, ops, _ = SIZES[size]
    dsn = pg.create_database()
    urls = cluster.nats_urls
    asyncio.run(_ensure_uplink(urls))  # the stream and the durable consumer exist, nobody consumes yet
    with Fleet(
        workdir / f"backlog-{n}", cluster.mqtt_endpoints, stores=stores, devices=devices, settings=NO_RESEND
    ) as fleet:
        fleet.wait_connected(TIMEOUT_S)
        fleet.add_ops(ops)
        settled, last, since = False, -1, time.monotonic()
        while not settled:
            now_count = asyncio.run(_stream_messages(urls))
            if now_count != last:
                last, since = now_count, time.monotonic()
            settled = time.monotonic() - since > BACKLOG_SETTLE_S
            time.sleep(POLL_S * 4)
        messages = last  # op batches and each device's sync request after connect
        pool, reader = WorkerPool(urls, dsn, workdir), PlatformReader(dsn)
        try:
            pool.start(n)  # side by side: none drains the backlog alone while the others import
            start, total = time.monotonic(), devices * ops
            while reader.applied_count() < total and time.monotonic() - start < TIMEOUT_S:
                time.sleep(POLL_S)
            applied, first_at, last_at = reader.applied_span()  # the workers' clock: exactly the applying
            seconds = max(last_at - first_at, 1e-6)
            fleet.wait_drained(TIMEOUT_S)
            fleet.stop()  # the live fleet reuses the device ids (new epochs): one MQTT session per id
            live_devices = LATENCY_DEVICES[size]
            with Fleet(workdir / f"live-{n}", cluster.mqtt_endpoints, stores=stores, devices=live_devices) as live:
                live.wait_connected(TIMEOUT_S)
                for _ in range(LATENCY_ROUNDS[size]):
                    live.add_ops(1)
                    time.sleep(LATENCY_GAP_S)
                live.wait_drained(TIMEOUT_S)
                report = live.report()
        finally:
            reader.close()
            pool.stop()
    return Throughput(n, applied, messages, seconds, report.latency_p50_s * 1000, report.latency_p99_s * 1000)


def sample(cluster: NatsCluster, workers: list[WorkerProcess], window: float) -> tuple[float, float, float, float]:
    """(NATS CPU %, NATS RSS MB, workers CPU %, workers RSS MB) over the window."""
    nats_pids = [p for p in (cluster.pid(i) for i in range(cluster.size)) if p is not None]
    before = [sum(cpu_s(p) for p in nats_pids), sum(cpu_s(w.pid) for w in workers)]
    time.sleep(window)
    after = [sum(cpu_s(p) for p in nats_pids), sum(cpu_s(w.pid) for w in workers)]
    return (
        100 * (after[0] - before[0]) / window,
        sum(rss_kb(p) for p in nats_pids) / MB,
        100 * (after[1] - before[1]) / window,
        sum(rss_kb(w.pid) for w in workers) / MB,
    )


def growth(workdir: Path, cluster: NatsCluster, pg: PostgresServer, size: str, sizes: tuple[int, ...]) -> list[Growth]:
    dsn = pg.create_database()
    window = GROWTH_WINDOW_S[size]
    with WorkerPool(cluster.nats_urls, dsn, workdir, prefix="g") as pool:
        workers = pool.start(2)
        rows = [Growth(0, 0, *sample(cluster, workers, window))]
        for devices in sizes:
            with Fleet(workdir / f"growth-{devices}", cluster.mqtt_endpoints, stores=20, devices=devices) as fleet:
                try:
                    fleet.wait_connected(TIMEOUT_S)
                except AssertionError as exc:
                    print(f"growth: {devices} devices did not all connect: {str(exc)[:300]}")
                fleet.add_ops(1)
                figures = sample(cluster, workers, window)
                rows.append(Growth(devices, fleet.report().connected, *figures))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--growth", help="comma-separated fleet sizes for the growth table")
    parser.add_argument("--growth-only", action="store_true", help="skip the throughput table (find the ceiling)")
    args = parser.parse_args(argv)
    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    sizes = tuple(int(x) for x in args.growth.split(",")) if args.growth else GROWTH[size]
    workdir = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    try:
        with NatsCluster(workdir / "nats") as cluster, PostgresServer(workdir / "pg") as pg:
            host, port = cluster.mqtt_endpoints[RAW_NODE]
            raw = c.raw_publish_rate(host, port, SIZES[size][3], protocol=paho.MQTTv311)
            counts = () if args.growth_only else WORKER_COUNTS[size]
            rows = [throughput(workdir, cluster, pg, n, size) for n in counts]
            grown = growth(workdir, cluster, pg, size, sizes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    devices, stores, ops, _ = SIZES[size]
    print(f"# Platform workers ({size}), {datetime.date.today()}\n")
    print(c.machine_line())
    print(f"3-node NATS cluster (R3), PostgreSQL 15; backlog: {devices} devices x {ops} ops over {stores} stores\n")
    print(
        c.md_table(
            [
                "workers",
                "ops applied",
                "uplink msgs",
                "ops/s",
                "msgs/s",
                "raw MQTT QoS 1 msg/s",
                "msgs/s / raw",
                "applied p50 ms",
                "applied p99 ms",
            ],
            [
                [
                    r.workers,
                    r.ops,
                    r.messages,
                    f"{r.ops / r.seconds:,.0f}",
                    f"{r.messages / r.seconds:,.0f}",
                    f"{raw.rate:,.0f}",
                    c.ratio(r.messages / r.seconds, raw.rate),
                    f"{r.p50_ms:.1f}",
                    f"{r.p99_ms:.1f}",
                ]
                for r in rows
            ],
        )
    )
    base = grown[0]
    print("\nGrowth (2 workers; per 1,000 connected devices, above the 0-device baseline):\n")
    print(
        c.md_table(
            [
                "devices",
                "connected",
                "NATS CPU %",
                "NATS RSS MB",
                "workers CPU %",
                "workers RSS MB",
                "NATS CPU %/1k",
                "NATS MB/1k",
                "workers CPU %/1k",
                "workers MB/1k",
            ],
            [
                [
                    g.devices,
                    g.connected,
                    f"{g.nats_cpu_pct:.1f}",
                    f"{g.nats_rss_mb:.0f}",
                    f"{g.workers_cpu_pct:.1f}",
                    f"{g.workers_rss_mb:.0f}",
                ]
                + (
                    [
                        f"{(g.nats_cpu_pct - base.nats_cpu_pct) * 1000 / g.connected:.1f}",
                        f"{(g.nats_rss_mb - base.nats_rss_mb) * 1000 / g.connected:.1f}",
                        f"{(g.workers_cpu_pct - base.workers_cpu_pct) * 1000 / g.connected:.1f}",
                        f"{(g.workers_rss_mb - base.workers_rss_mb) * 1000 / g.connected:.1f}",
                    ]
                    if g.connected
                    else ["", "", "", ""]
                )
                for g in grown
            ],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
