"""``--cpu-quota PCT``: a bench's device side on one core at PCT % of it, a rough stand-in for a Pi Zero 2 W.

``systemd-run --scope -p CPUQuota=25%`` needs systemd as PID 1, which a container has not; so this makes a
cgroup of its own: cgroup v2 (``cpu.max`` = "PCT*1000 100000", ``cpuset.cpus`` = 0) where the unified hierarchy
has the cpu controller, else cgroup v1 (``cpu.cfs_quota_us`` under /sys/fs/cgroup/cpu, ``cpuset.cpus`` under
/sys/fs/cgroup/cpuset). The calling process moves in, with every thread, and whatever it starts afterwards
inherits it; a bench moves the platform's side (Mosquitto, the central simulator) back out with :func:`exempt`,
since on a store's network they run elsewhere. The cgroup is removed at exit. Needs root (the benches run as
root in the dev container); anything else fails with the reason, never silently at full speed.
"""

from __future__ import annotations

import argparse
import atexit
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000
"""The scheduler's default CFS period (100 ms): the quota is PCT % of it."""
QUOTA_CPU = "0"
"""One core, as a Pi Zero 2 W's single busy core; 0 exists on every machine."""


_active: CpuQuota | None = None
"""The quota this process entered (one per process)."""


class QuotaUnavailable(RuntimeError):
    """No cgroup with a cpu controller could be made here: the reason says which file refused."""


@dataclass(frozen=True)
class CpuQuota:
    percent: float
    mechanism: str
    """How it was applied, for the bench's header line."""
    dirs: tuple[Path, ...]
    parents: tuple[Path, ...]

    def describe(self) -> str:
        return f"CPU quota {self.percent:g}% of core {QUOTA_CPU} ({self.mechanism})"


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cpu-quota",
        type=float,
        default=None,
        metavar="PCT",
        help="run the device side on core 0 at PCT %% of it (a cgroup; e.g. 25 for a Pi Zero 2 W stand-in)",
    )


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise QuotaUnavailable(f"cannot write {value!r} to {path}: {exc}") from exc


def _v2_has_cpu() -> Path | None:
    for root in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
        controllers = root / "cgroup.controllers"
        if controllers.exists() and "cpu" in controllers.read_text().split():
            return root
    return None


def enter(percent: float, name: str | None = None) -> CpuQuota:
    """Moves this process into a new cgroup limited to ``percent`` % of core 0."""
    if not 0 < percent <= 100:
        raise QuotaUnavailable(f"--cpu-quota must be in (0, 100], got {percent:g}")
    leaf = name or f"edge-bench-{os.getpid()}"
    quota_us = str(round(PERIOD_US * percent / 100))
    v2 = _v2_has_cpu()
    if v2 is not None:
        own = v2 / leaf
        _write(v2 / "cgroup.subtree_control", "+cpu +cpuset")
        own.mkdir(exist_ok=True)
        _write(own / "cpu.max", f"{quota_us} {PERIOD_US}")
        _write(own / "cpuset.cpus", QUOTA_CPU)
        quota = CpuQuota(percent, f"cgroup v2 {own}: cpu.max={quota_us} {PERIOD_US}, cpuset.cpus={QUOTA_CPU}",
                         (own,), (v2,))  # fmt: skip
    else:
        cpu, cpuset = CGROUP_ROOT / "cpu", CGROUP_ROOT / "cpuset"
        if not (cpu / "cpu.cfs_quota_us").exists() or not (cpuset / "cpuset.cpus").exists():
            raise QuotaUnavailable(f"no cgroup v2 cpu controller and no cgroup v1 cpu/cpuset under {CGROUP_ROOT}")
        for d in (cpu / leaf, cpuset / leaf):
            d.mkdir(exist_ok=True)
        _write(cpu / leaf / "cpu.cfs_period_us", str(PERIOD_US))
        _write(cpu / leaf / "cpu.cfs_quota_us", quota_us)
        _write(cpuset / leaf / "cpuset.cpus", QUOTA_CPU)
        _write(cpuset / leaf / "cpuset.mems", (cpuset / "cpuset.mems").read_text().strip())
        quota = CpuQuota(
            percent,
            f"cgroup v1 (no v2 cpu controller here): {cpu / leaf} cpu.cfs_quota_us={quota_us} "
            f"cpu.cfs_period_us={PERIOD_US}, {cpuset / leaf} cpuset.cpus={QUOTA_CPU}",
            (cpu / leaf, cpuset / leaf),
            (cpu, cpuset),
        )
    for d in quota.dirs:
        _write(d / "cgroup.procs", str(os.getpid()))
    atexit.register(_leave, quota)
    global _active
    _active = quota
    return quota


def exempt(pid: int | None) -> None:
    """Moves a process this bench started (the broker, the platform simulator) out of the quota in force, if any."""
    if _active is None or pid is None:
        return
    for parent in _active.parents:
        _write(parent / "cgroup.procs", str(pid))


def _leave(quota: CpuQuota) -> None:
    """At exit: this process back to the parent, then the cgroup removed (it must be empty by then)."""
    for d, parent in zip(quota.dirs, quota.parents, strict=True):
        try:
            for pid in (d / "cgroup.procs").read_text().split():
                (parent / "cgroup.procs").write_text(pid)
            d.rmdir()
        except OSError:
            pass  # a child still exiting: the empty directory is harmless and named after this pid


def from_args(args: argparse.Namespace) -> CpuQuota | None:
    """The quota the bench was asked for, entered now and said on stdout (None at full speed, and nothing said)."""
    percent = getattr(args, "cpu_quota", None)
    if percent is None:
        return None
    quota = enter(percent)
    print(f"Under a {quota.describe()}: the figures below are the quota run's.\n")
    return quota
