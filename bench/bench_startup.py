"""Benchmark: process start to systemd READY=1 of `edge-agent run`, next to the bare import of its libraries.

Usage: python bench/bench_startup.py [--quick | --smoke] [--runs N]

The agent runs as a real process (``python -m edge_agent run --config agent.toml``) with a camera kiosk config
(tests.support.world.make_config with a generated MJPG video, as bench_memory.py), against a Mosquitto started
here. NOTIFY_SOCKET names a unix datagram socket this bench binds (edge_agent/systemd_notify.py speaks to it as
to systemd); the figure is perf_counter from just before Popen to the READY=1 datagram. The first boot creates
the database (migrations) and is shown apart; then each run restarts on the existing database, as a service does.

Floor, same run, alternating with the agent: ``python -c "import <libs>"``, from Popen to exit, where <libs> are
the third-party libraries the same config imports when built (bench_memory.py ROLE_BUILD_SCRIPT in a fresh
interpreter), and a bare ``python -c pass`` beside it. Best of N (a loaded machine only ever adds time).
--smoke: one run of each, to prove the bench still runs. Nothing here asserts; it only prints.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as c
import _cpu_quota as cpu_quota  # also puts the repo on sys.path
import _role_keys as role_keys
from bench_memory import ROLE_BUILD_SCRIPT

from simulators.camera import DEFAULT_FPS, write_scan_video
from tests.support.broker import MosquittoBroker
from tests.support.world import make_config, write_config

RUNS, QUICK_RUNS, SMOKE_RUNS = 7, 3, 1
READY_WAIT_S = 60.0
STOP_WAIT_S = 15.0
CONNECTED_WAIT_S = 10.0
"""Bounded waits only: a stuck agent ends the bench with an error, never a hang."""
CONNECTED_LINE = "mqtt: connected"
"""Stopped once connected: an agent stopped mid-connect waits its bounded offline notice out, seconds per run."""
EMPTY_FRAMES, SMOKE_EMPTY_FRAMES = 15 * 20, 30
"""An empty scene at 15 fps, paced (20 s; --smoke 2 s): the camera is still open when READY=1 comes."""


def ready_time(argv: list[str], env: dict[str, str], sock: socket.socket, log: Path) -> float:
    """Seconds from just before Popen to the READY=1 datagram; the agent is stopped (SIGTERM) afterwards."""
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=c.REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = start + READY_WAIT_S
        while True:
            sock.settimeout(max(0.01, deadline - time.perf_counter()))
            try:
                data = sock.recv(4096)
            except TimeoutError as exc:
                tail = log.read_text(errors="replace")[-1500:]
                raise RuntimeError(f"no READY=1 after {READY_WAIT_S} s: {tail}") from exc
            if b"READY=1" in data.split(b"\n"):
                ready = time.perf_counter() - start
                _wait_for_line(log, CONNECTED_LINE, CONNECTED_WAIT_S)
                return ready
            if proc.poll() is not None:
                raise RuntimeError(f"agent exited with {proc.returncode}: {log.read_text(errors='replace')[-1500:]}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait_for_line(log: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            return  # stopped anyway; the figure is already taken
        time.sleep(0.02)


def exit_time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=c.REPO, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def config_libraries(config: Path, workdir: Path) -> list[str]:
    env = dict(os.environ, EDGE_AGENT_STATE_DIR=str(workdir / "probe-state"))
    argv = [sys.executable, "-c", ROLE_BUILD_SCRIPT, str(config), *role_keys.write_keys(workdir)]
    result = subprocess.run(argv, cwd=c.REPO, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"library probe failed: {result.stderr[-2000:]}")
    return list(json.loads(result.stdout.strip().splitlines()[-1])["libs"])


def row(name: str, samples: list[float], floor: float | None) -> list[str]:
    best = min(samples)
    return [
        name,
        f"{best * 1e3:.0f}",
        f"{statistics.median(samples) * 1e3:.0f}",
        " / ".join(f"{s * 1e3:.0f}" for s in samples),
        "" if floor is None else c.ratio(best, floor),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"best of {QUICK_RUNS}")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_RUNS} run of each")
    parser.add_argument("--runs", type=int, default=None, help=f"default {RUNS}")
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    runs = args.runs or (SMOKE_RUNS if args.smoke else QUICK_RUNS if args.quick else RUNS)

    workdir = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    print("# Startup: process start to READY=1 of `edge-agent run` (camera kiosk), next to importing its libraries\n")
    print(f"{datetime.date.today()}, {c.machine_line()}, {c.mosquitto_version()}\n")
    broker = MosquittoBroker(workdir / "broker")
    broker.start()
    cpu_quota.exempt(broker.pid)  # the store's network, not the device
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        video = workdir / "scan.avi"
        write_scan_video(
            video, [(None, SMOKE_EMPTY_FRAMES if args.smoke else EMPTY_FRAMES)], fps=DEFAULT_FPS
        )  # the camera opens; nothing to scan
        config = make_config(workdir, broker.port, video=video)
        assert config.readers.barcode is not None
        config.readers.barcode.pace = True
        config_path = write_config(config, workdir / "agent.toml")
        libs = config_libraries(config_path, workdir)
        notify = workdir / "notify.sock"
        sock.bind(str(notify))
        env = dict(os.environ, NOTIFY_SOCKET=str(notify), PYTHONUNBUFFERED="1")
        agent_argv = [sys.executable, "-m", "edge_agent", "run", "--config", str(config_path)]
        import_argv = [sys.executable, "-c", "import " + ", ".join(libs)]
        bare_argv = [sys.executable, "-c", "pass"]
        log = workdir / "agent.log"
        first = ready_time(agent_argv, env, sock, log)  # creates the database
        agent, imports, bare = [], [], []
        for _ in range(runs):  # alternating, so load drift hits every side alike
            agent.append(ready_time(agent_argv, env, sock, log))
            imports.append(exit_time(import_argv))
            bare.append(exit_time(bare_argv))
    finally:
        sock.close()
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    floor = min(imports)
    print(
        c.md_table(
            ["process", "best ms", "median ms", f"each of {runs} (ms)", "best / import floor"],
            [
                row("`edge-agent run` to READY=1 (existing database)", agent, floor),
                row("`edge-agent run` to READY=1, first boot (creates the database)", [first], floor),
                row(f"`python -c 'import {', '.join(libs)}'` to exit", imports, floor),
                row("`python -c pass` to exit", bare, floor),
            ],
        )
    )
    print(
        f"\nThe agent's own startup (READY=1 best minus the import floor): {(min(agent) - floor) * 1e3:.0f} ms. "
        f"Libraries: what building this config imports (site-packages top-level names)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
