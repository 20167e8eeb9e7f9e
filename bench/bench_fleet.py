"""Benchmark: what health and metrics cost: CPU and RSS of `edge-agent run` with both on, next to both off.

Usage: python bench/bench_fleet.py [--quick | --smoke] [--seconds S]

Two agents run at once as real processes (``python -m edge_agent run``), against one Mosquitto and the central
simulator: ``off`` has ``[health] enabled = false`` and no ``[metrics]``; ``on`` sends health every 5 s (the
minimum, 12x the default) and has the metrics listener and the textfile, and this bench scrapes its /metrics once a
second (15x Prometheus' default scrape interval). Neither has a reader or a screen: an idle agent is where the
feature's share is largest, and a screenless one pays every import itself. Running side by side, both see the same
machine load.

Figures, after a warm-up: CPU seconds (utime + stime of /proc/<pid>/stat) over the window as % of one core, VmRSS at
the end and VmHWM. The difference is the cost at the stressed rates, so an upper bound of the default's.
--smoke: a few seconds, to prove the bench still runs. Target: on - off < 1 % of one core and < 5 MB.
Nothing here asserts; it only prints.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import _common as c
import _cpu_quota as cpu_quota  # also puts the repo on sys.path

from edge_agent.config import AgentConfig
from simulators.broker import MosquittoBroker, free_port
from simulators.central import CentralPlatform
from tests.support.world import write_config

TARGET_CPU_PCT = 1.0
TARGET_RSS_MB = 5.0
WARMUP_S, SMOKE_WARMUP_S = 5.0, 1.0
SCRAPE_EVERY_S = 1.0
HEALTH_EVERY_S = 5.0
SMOKE_SECONDS = 3.0
KB = 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15 of stat(5))


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def agent_config(workdir: Path, port: int, device: str, fleet: bool) -> tuple[AgentConfig, int | None]:
    raw: dict[str, Any] = c.production_config(workdir, port, device).model_dump(mode="json", exclude_none=True)
    metrics_port = None
    if fleet:
        metrics_port = free_port()
        raw["health"] = {"enabled": True, "interval_s": HEALTH_EVERY_S}
        raw["metrics"] = {"listen": f"127.0.0.1:{metrics_port}", "textfile": str(workdir / f"{device}.prom")}
    else:
        raw["health"] = {"enabled": False}
    return AgentConfig.model_validate(raw), metrics_port


def run(seconds: float, warmup: float) -> dict[str, dict[str, float]]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        broker = MosquittoBroker(workdir / "broker")
        broker.start()
        cpu_quota.exempt(broker.pid)  # the store's network, not the device
        central = CentralPlatform(workdir / "central.db", broker.host, broker.port).start()
        try:
            ports: dict[str, int | None] = {}
            for name, fleet in (("off", False), ("on", True)):
                config, ports[name] = agent_config(workdir, broker.port, f"kiosk-{name}", fleet)
                path = write_config(config, workdir / f"{name}.toml")
                log = (workdir / f"{name}.log").open("wb")
                argv = [sys.executable, "-m", "edge_agent", "run", "--config", str(path)]
                env = dict(os.environ, PYTHONUNBUFFERED="1")
                procs[name] = subprocess.Popen(argv, cwd=c.REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
            metrics_port = ports["on"]
            assert metrics_port is not None
            time.sleep(warmup)
            start = {n: cpu_s(p.pid) for n, p in procs.items()}
            t0 = time.monotonic()
            scrapes = 0
            while time.monotonic() - t0 < seconds:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
                        r.read()
                    scrapes += 1
                except OSError:
                    pass
                time.sleep(SCRAPE_EVERY_S)
            elapsed = time.monotonic() - t0
            out = {
                n: {
                    "cpu_pct": (cpu_s(p.pid) - start[n]) / elapsed * 100,
                    "rss_mb": status_kb(p.pid, "VmRSS") / KB,
                    "hwm_mb": status_kb(p.pid, "VmHWM") / KB,
                    "elapsed": elapsed,
                    "scrapes": scrapes,
                }
                for n, p in procs.items()
            }
        finally:
            central.stop()
            for p in procs.values():
                p.send_signal(signal.SIGTERM)
            for p in procs.values():
                p.wait(20)
            broker.stop()
        return out
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_SECONDS:g} s")
    parser.add_argument(
        "--seconds", type=float, default=None, help=f"default 120; --quick 30; --smoke {SMOKE_SECONDS:g}"
    )
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    seconds = args.seconds or (SMOKE_SECONDS if args.smoke else 30.0 if args.quick else 120.0)
    res = run(seconds, SMOKE_WARMUP_S if args.smoke else WARMUP_S)
    on, off = res["on"], res["off"]
    print(f"# Cost of health and metrics: two idle agents side by side for {on['elapsed']:.0f} s\n")
    print(f"{datetime.date.today()}, {c.machine_line()}, {c.mosquitto_version()}\n")
    print(
        c.md_table(
            ["figure", "both off", "health + metrics on", "difference", "target"],
            [
                [
                    "CPU, % of one core",
                    f"{off['cpu_pct']:.2f}",
                    f"{on['cpu_pct']:.2f}",
                    f"{on['cpu_pct'] - off['cpu_pct']:+.2f}",
                    f"< {TARGET_CPU_PCT:g}",
                ],
                [
                    "VmRSS at the end, MB",
                    f"{off['rss_mb']:.1f}",
                    f"{on['rss_mb']:.1f}",
                    f"{on['rss_mb'] - off['rss_mb']:+.1f}",
                    f"< {TARGET_RSS_MB:g}",
                ],
                [
                    "VmHWM (peak RSS), MB",
                    f"{off['hwm_mb']:.1f}",
                    f"{on['hwm_mb']:.1f}",
                    f"{on['hwm_mb'] - off['hwm_mb']:+.1f}",
                    f"< {TARGET_RSS_MB:g}",
                ],
            ],
        )
    )
    print(
        f"\n`on`: a health message every {HEALTH_EVERY_S:g} s, the textfile rewritten as often, /metrics scraped "
        f"{on['scrapes']:.0f} times (every {SCRAPE_EVERY_S:g} s). CPU is /proc/<pid>/stat utime + stime over the "
        f"window, after {WARMUP_S:g} s of warm-up."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
