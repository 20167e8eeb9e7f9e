"""Benchmark: peak memory of `edge-agent run` playing a camera video against Mosquitto and the platform.

Usage: python bench/bench_memory.py [--quick | --smoke] [--seconds S]

The agent runs as a real process (``python -m edge_agent run --config agent.toml``, config written with
tests.support.world.write_config(make_config(...))) reading a generated MJPG scan video (simulators.camera:
the DEMO_CODES held in view in turn, 640x480 @ 15 fps) paced in real time, for ~20 s (--quick 8 s),
with Mosquitto and the central simulator (in this process) applying its ops.

Figures: the agent's VmHWM (/proc/<pid>/status, read just before SIGTERM), its ru_maxrss (os.wait4 on that
one child) and the largest VmRSS sampled every 0.25 s. Floor, same run: a bare interpreter that imports the
same libraries (cv2, numpy, zxing-cpp, paho-mqtt, pydantic, sqlite3), opens the same video and decodes
one frame -- what any Python agent with this stack costs before doing anything.

Per role, same run: each shipped device_config/<role>.toml (its EA2 public identity key, claim key and state
directory pointed at temporary files, bench/_role_keys.py) is built with edge_agent.wiring.build_agent in a fresh
interpreter, which then lists the third-party libraries it imported (top-level packages from site-packages); a
second fresh interpreter imports exactly those. The agent's VmRSS after building is printed next to that floor
(readers are not started: no camera, NFC or BLE hardware here). Target: <= 1.1 x the floor of the libraries the
config needs.
edge_agent is byte-compiled first (its __pycache__, as an install does), so no process compiles source at start.
--breakdown adds RSS after each import group per role and tracemalloc in a second, traced run
(bench/_memory_breakdown.py).
--smoke: a few seconds of video, to prove the bench still runs (the agent may not reach its peak).
Target: agent peak RSS <= 80 MB. Nothing here asserts a size; it only prints.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _cpu_quota as cpu_quota  # the standard library only: the launcher forks lean
import _role_keys as role_keys

# Only the standard library at import time: the launcher (below) must fork from a lean process.
REPO = Path(__file__).resolve().parents[1]

TARGET_MB = 80.0
TARGET_FLOOR_RATIO = 1.1
ROLES = ("kiosk", "shelf", "associate-handheld", "fitting-room-mirror")
HOLD, GAP = 10, 8
SAMPLE_S = 0.25
SMOKE_SECONDS = 3.0
KB = 1024

LAUNCHER_SCRIPT = r"""
import json, os, subprocess, sys
# Linux carries ru_maxrss across fork+exec (the parent's RSS at fork), so the agent and the floor are started
# by this small process, forked while the bench was still lean; wait4 then gives each child's own peak.
for line in sys.stdin:
    job = json.loads(line)
    with open(job["log"], "wb") as log:
        proc = subprocess.Popen(job["argv"], cwd=job["cwd"], env=job["env"], stdout=log, stderr=subprocess.STDOUT)
    print(json.dumps({"pid": proc.pid}), flush=True)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    print(json.dumps({"code": proc.returncode, "maxrss": usage.ru_maxrss}), flush=True)
"""


class Launcher:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-S", "-c", LAUNCHER_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.own_maxrss_kb = _self_rss_kb()

    def spawn(self, argv: list[str], log: Path, extra_env: dict[str, str] | None = None) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(extra_env or {}))
        self.proc.stdin.write(json.dumps({"argv": argv, "cwd": str(REPO), "env": env, "log": str(log)}) + "\n")
        self.proc.stdin.flush()
        return int(json.loads(self.proc.stdout.readline())["pid"])

    def reap(self) -> tuple[int, int]:
        """(exit code, ru_maxrss KB) of the child spawned last, once it has exited."""
        assert self.proc.stdout is not None
        done = json.loads(self.proc.stdout.readline())
        return int(done["code"]), int(done["maxrss"])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(10)


def _self_rss_kb() -> int:
    return proc_status_kb(os.getpid(), "VmRSS") or 0


FLOOR_SCRIPT = """
import sys
import cv2, numpy, zxingcpp, paho.mqtt.client, pydantic, sqlite3
cap = cv2.VideoCapture(sys.argv[1])
ok, frame = cap.read()
gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
zxingcpp.read_barcodes(gray)
cap.release()
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
print(*(int(status[k].split()[0]) for k in ("VmHWM", "RssAnon", "RssFile")))
"""


ROLE_BUILD_SCRIPT = (
    """
import json, os, sys
from pathlib import Path
from edge_agent.config import load_config
from edge_agent.wiring import build_agent
config = load_config(sys.argv[1])
"""
    + role_keys.POINT_AT_KEYS
    + """
build_agent(config)
mods = sorted(name for name, m in list(sys.modules.items())
              if "site-packages" in (getattr(m, "__file__", None) or "") and not name.startswith(("edge_agent", "_")))
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
print(json.dumps({"libs": sorted({m.split(".")[0] for m in mods}), "modules": mods,
                  "kb": {k: int(status[k].split()[0]) for k in ("VmRSS", "RssAnon", "RssFile")}}))
"""
)
"""argv: the config, then bench/_role_keys.py's key files."""

ROLE_FLOOR_SCRIPT = """
import importlib, json, sys
for name in sys.argv[1:]:  # every third-party module the built agent loaded, not just the top-level package
    try:
        importlib.import_module(name)
    except Exception:  # a module that imports only in its own context (a platform shim): its package is in
        pass
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
print(json.dumps({k: int(status[k].split()[0]) for k in ("VmRSS", "RssAnon", "RssFile")}))
"""


def role_rows(workdir: Path) -> list[list[object]]:
    """Per shipped role config: the libraries it imports, their floor and the built agent, as table rows."""
    keys = role_keys.write_keys(workdir)
    env = dict(os.environ, EDGE_AGENT_STATE_DIR=str(workdir / "state"))
    rows: list[list[object]] = []
    for role in ROLES:
        config = REPO / "device_config" / f"{role}.toml"
        argv = [sys.executable, "-c", ROLE_BUILD_SCRIPT, str(config), *keys]
        built = json.loads(_last_line(subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)))
        floor_argv = [sys.executable, "-c", ROLE_FLOOR_SCRIPT, *built["modules"]]
        floor = json.loads(_last_line(subprocess.run(floor_argv, cwd=REPO, env=env, capture_output=True, text=True)))
        agent_kb, floor_kb = built["kb"]["VmRSS"], floor["VmRSS"]
        rows.append(
            [
                role,
                ", ".join(built["libs"]),
                mb(floor_kb),
                mb(agent_kb),
                f"{agent_kb / floor_kb:.2f}x",
                f"{mb(built['kb']['RssAnon'])} / {mb(floor['RssAnon'])}",
            ]
        )
    return rows


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(f"role probe failed: {result.stderr[-2000:]}")
    return result.stdout.strip().splitlines()[-1]


def proc_status_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def make_video(path: Path, seconds: float) -> tuple[Path, int]:
    from simulators.camera import DEFAULT_FPS, DEMO_CODES, demo_script, write_scan_video

    cycle = demo_script(DEMO_CODES, HOLD, GAP)
    per_cycle = sum(frames for _, frames in cycle)
    cycles = max(1, int(seconds * DEFAULT_FPS / per_cycle + 0.999))
    write_scan_video(path, cycle * cycles, fps=DEFAULT_FPS)
    return path, per_cycle * cycles


def floor_kb(launcher: Launcher, workdir: Path, video: Path) -> tuple[int, int, int, int]:
    """(VmHWM, ru_maxrss, RssAnon, RssFile) in KB."""
    log = workdir / "floor.log"
    launcher.spawn([sys.executable, "-c", FLOOR_SCRIPT, str(video)], log)
    code, maxrss = launcher.reap()
    if code != 0:
        raise RuntimeError(f"floor process failed: {log.read_text(errors='replace')[-2000:]}")
    hwm, anon, file = (int(v) for v in log.read_text().split()[-3:])
    return hwm, maxrss, anon, file


def run_agent(
    launcher: Launcher, workdir: Path, port: int, video: Path, seconds: float, trace: Path | None = None
) -> dict[str, Any]:
    """The agent's figures; with ``trace``, it runs under tracemalloc and dumps ``trace.0`` just after startup
    and ``trace.1`` at the end (--breakdown)."""
    from tests.support.world import make_config, write_config

    config = make_config(workdir, port, video=video)
    assert config.readers.barcode is not None
    config.readers.barcode.pace = True  # a live camera's rate, not as fast as the decoder can go
    config_path = write_config(config, workdir / "agent.toml")
    log_path = workdir / "agent.log"
    samples: list[int] = []
    argv, extra_env = [sys.executable, "-m", "edge_agent", "run", "--config", str(config_path)], {}
    if trace is not None:
        from _memory_breakdown import trace_argv

        argv, extra_env = trace_argv(config_path, trace)
    pid = launcher.spawn(argv, log_path, extra_env)
    hwm = anon = file = None
    try:
        deadline = time.monotonic() + seconds
        if trace is not None:
            _signal_when_running(pid, log_path, deadline, Path(f"{trace}.0"))
        while time.monotonic() < deadline:
            rss = proc_status_kb(pid, "VmRSS")
            if rss is None:  # exited early
                break
            samples.append(rss)
            time.sleep(SAMPLE_S)
        hwm = proc_status_kb(pid, "VmHWM")
        anon, file = proc_status_kb(pid, "RssAnon"), proc_status_kb(pid, "RssFile")
        if trace is not None:
            _dump_and_wait(pid, Path(f"{trace}.1"))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        returncode, maxrss = launcher.reap()
    text = log_path.read_text(errors="replace")
    return {
        "hwm": hwm,
        "anon": anon,
        "file": file,
        "maxrss": maxrss,
        "max_sampled": max(samples) if samples else None,
        "last_sampled": samples[-1] if samples else None,
        "samples": len(samples),
        "saved": sum(1 for line in text.splitlines() if " saved " in line),
        "returncode": returncode,
        "log_tail": text[-1500:],
    }


RUNNING_LINE = " running: device "
"""The agent's log line once it has started (agent.py, after READY=1): the 'start' of the trace."""
DUMP_WAIT_S = 60.0


def _signal_when_running(pid: int, log_path: Path, deadline: float, dump: Path) -> None:
    while time.monotonic() < deadline and RUNNING_LINE not in log_path.read_text(errors="replace"):
        time.sleep(0.05)
    _dump_and_wait(pid, dump)


def _dump_and_wait(pid: int, dump: Path) -> None:
    """SIGUSR1 the traced agent and wait until its snapshot file is complete (its size stops changing)."""
    os.kill(pid, signal.SIGUSR1)
    end, last = time.monotonic() + DUMP_WAIT_S, -1
    while time.monotonic() < end:
        size = dump.stat().st_size if dump.exists() else -1
        if size > 0 and size == last:
            return
        last = size
        time.sleep(0.2)
    raise RuntimeError(f"the traced agent wrote no snapshot {dump}")


def compile_agent() -> None:
    """Byte-compiles edge_agent into its __pycache__ (gitignored), as installing the package does on a device.

    The environment here may set PYTHONDONTWRITEBYTECODE; without the .pyc files every agent process would
    compile its ~110 modules from source at start (~0.6 MB more heap, and the compiler's transient peak), which a
    Pi never does. The libraries' own .pyc files came with their install."""
    import compileall

    compileall.compile_dir(REPO / "edge_agent", quiet=2)


def mb(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / KB:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 s of video (under a minute)")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_SECONDS:g} s of video")
    parser.add_argument("--seconds", type=float, default=None, help=f"default 20; --quick 8; --smoke {SMOKE_SECONDS:g}")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also: RSS after each import group per role, and tracemalloc in a second run (bench/_memory_breakdown.py)",
    )
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    seconds = args.seconds or (SMOKE_SECONDS if args.smoke else 8.0 if args.quick else 20.0)

    launcher = Launcher()  # first, while this process holds only the standard library
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _common as c  # also puts the repo on sys.path

    from simulators.camera import DEFAULT_FPS
    from simulators.central import CentralPlatform
    from tests.support.broker import MosquittoBroker

    workdir = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    compile_agent()
    print(f"# Peak memory of `edge-agent run`: {seconds:g} s of paced camera video, Mosquitto, central\n")
    print(f"{datetime.date.today()}, {c.machine_line()}, {c.mosquitto_version()}\n")
    try:
        video, frames = make_video(workdir / "scan.avi", seconds)
        floor_hwm, floor_maxrss, floor_anon, floor_file = floor_kb(launcher, workdir, video)
        roles = role_rows(workdir)
        broker = MosquittoBroker(workdir / "broker")
        broker.start()
        cpu_quota.exempt(broker.pid)  # the store's network, not the device
        try:
            central = CentralPlatform(workdir / "central.db", broker.host, broker.port).start()
            try:
                res = run_agent(launcher, workdir, broker.port, video, seconds)
                applied = central.applied_count()
                if args.breakdown:
                    traced = run_agent(launcher, workdir, broker.port, video, seconds, trace=workdir / "trace")
                    breakdown = _breakdown(workdir, traced)
            finally:
                central.stop()
        finally:
            broker.stop()
    finally:
        launcher.close()
        shutil.rmtree(workdir, ignore_errors=True)

    hwm, maxrss = res["hwm"], res["maxrss"]
    print(
        c.md_table(
            ["figure", "agent MB", "floor MB", "ratio", "target"],
            [
                ["VmHWM (peak RSS)", mb(hwm), mb(floor_hwm), c.ratio(hwm or 0, floor_hwm), f"<= {TARGET_MB:g} MB"],
                [
                    "ru_maxrss (wait4)",
                    mb(maxrss),
                    mb(floor_maxrss),
                    c.ratio(maxrss, floor_maxrss),
                    f"<= {TARGET_MB:g} MB",
                ],
                [
                    "RssAnon at the end (heap, stacks)",
                    mb(res["anon"]),
                    mb(floor_anon),
                    c.ratio(res["anon"] or 0, floor_anon),
                    "",
                ],
                [
                    "RssFile at the end (mapped libraries)",
                    mb(res["file"]),
                    mb(floor_file),
                    c.ratio(res["file"] or 0, floor_file),
                    "",
                ],
                ["largest sampled VmRSS", mb(res["max_sampled"]), "", "", ""],
                ["VmRSS at the end", mb(res["last_sampled"]), "", "", ""],
            ],
        )
    )
    print()
    print(
        f"Video: {frames} frames 640x480 MJPG @ {DEFAULT_FPS} fps ({frames / DEFAULT_FPS:.1f} s), paced; the agent "
        f"ran {seconds:g} s ({res['samples']} RSS samples), saved {res['saved']} scans, the central applied "
        f"{applied}; exit code after SIGTERM {res['returncode']}. Floor: the same interpreter importing cv2, numpy, "
        f"zxing-cpp, paho-mqtt, pydantic and sqlite3, decoding one frame of the same video. Both were started "
        f"by a launcher forked at {mb(launcher.own_maxrss_kb)} MB, so ru_maxrss is each child's own."
    )
    print()
    print("Per role (device_config/<role>.toml built, readers not started), VmRSS:\n")
    print(
        c.md_table(
            ["role", "third-party libraries imported", "floor MB", "agent MB", "ratio", "RssAnon agent / floor MB"],
            roles,
        )
    )
    print(f"\nTarget: agent <= {TARGET_FLOOR_RATIO:g} x the floor of the libraries its config needs.")
    if res["returncode"] not in (0, -signal.SIGTERM):
        print("\nAgent log tail:\n```\n" + str(res["log_tail"]) + "\n```")
    if args.breakdown:
        print(breakdown)
    return 0


def _breakdown(workdir: Path, traced: dict[str, Any]) -> str:
    """The --breakdown tables: import groups of each role's built agent, and the traced run's allocations."""
    import _common as c
    from _memory_breakdown import import_groups, trace_rows

    from tests.support.world import make_config, write_config

    keys = role_keys.write_keys(workdir)
    env = dict(os.environ, EDGE_AGENT_STATE_DIR=str(workdir / "state-breakdown"))
    out = ["\n## Breakdown\n"]
    camera_kiosk = write_config(make_config(workdir, 1883, video=workdir / "scan.avi"), workdir / "camera-kiosk.toml")
    configs = [("camera-only kiosk (this bench's agent)", camera_kiosk)]
    configs += [(role, REPO / "device_config" / f"{role}.toml") for role in ROLES]
    headers = ["after importing", "modules", "VmRSS MB", "RssAnon MB", "+RssAnon MB", "+pydantic models"]
    for label, path in configs:
        out.append(f"Import groups, {label} (fresh interpreter, each group in turn, then build_agent):\n")
        out.append(c.md_table(headers, import_groups(path, keys, env, REPO)) + "\n")
    start, growth, total_start, total_end = trace_rows(workdir / "trace")
    out.append(
        f"tracemalloc in `edge-agent run` (the same video, a second run; traced {total_start} KB just after "
        f"startup, {total_end} KB at the end; VmHWM under tracing {mb(traced['hwm'])} MB):\n"
    )
    out.append(c.md_table(["top allocations at start, by package", "KB", "blocks"], start) + "\n")
    out.append(c.md_table(["growth start -> end, by package", "KB", "blocks"], growth))
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
