"""What the operating system knows about the agent: its memory and CPU, the state directory's disk, the clock's
synchronisation and the client certificate's expiry. Each returns None where the platform cannot tell, so a
figure is null on the wire rather than wrong."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

from edge_agent.const import NTP_MAX_ERROR_US
from edge_agent.sync.link_reasons import certificate_not_after

__all__ = ["clock_synchronised", "cpu_seconds", "disk_free_bytes", "file_bytes", "not_after", "rss_bytes"]

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int | None:
    """Resident set size now (/proc/self/statm's second field, in pages): cheaper than reading /proc/self/status."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


def cpu_seconds() -> float:
    """User + system CPU time of the whole process (every thread: readers, paho's network thread, the loop)."""
    return time.process_time()


def file_bytes(path: Path) -> int:
    """A file's size; 0 when it does not exist (a WAL right after the last connection closed)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def disk_free_bytes(directory: Path) -> int | None:
    """Free bytes for an unprivileged writer (statvfs f_bavail), as SQLite will find them."""
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def not_after(cert_file: str | None) -> datetime | None:
    """The client certificate's notAfter; None without a client certificate or when it cannot be read."""
    return certificate_not_after(cert_file) if cert_file else None


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """Linux ``struct timex`` (adjtimex(2)); modes = 0 reads the kernel's NTP state and needs no privilege."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


def clock_synchronised() -> bool | None:
    """The kernel's view, as systemd's ntp_synced() reads it: adjtimex maxerror below 16 s. A system call, not a
    `timedatectl` subprocess: the health loop runs on the agent's event loop and must not fork or block on D-Bus.
    None off Linux or when the call fails."""
    libc = _libc()
    if libc is None:
        return None
    timex = _Timex()
    try:
        if libc.adjtimex(ctypes.byref(timex)) < 0:
            return None
    except AttributeError:  # a libc without adjtimex
        return None
    return bool(timex.maxerror < NTP_MAX_ERROR_US)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
