"""Server processes the simulators start (Mosquitto, NATS nodes): launched with their output in a log file, and
waited for until they serve, exit because their port was taken (the caller picks another), or fail.

One piece for both, so a fix to the start race (the port probed free, then taken before the bind) lands in both.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import NoReturn, Self

__all__ = ["ADDRESS_IN_USE", "StartStop", "launch_logged", "log_since"]

ADDRESS_IN_USE = "address already in use"
"""What Mosquitto and nats-server log (in any case) when their port is taken; compared lower-cased."""


def log_since(log_path: Path, offset: int) -> str:
    """The log's text from byte ``offset`` on: what this run of the process wrote (the log is appended to)."""
    with log_path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def launch_logged(
    argv: Sequence[str],
    *,
    cwd: Path,
    log_path: Path,
    ready: Callable[[], bool],
    timeout: float,
    poll_s: float,
    fail: Callable[[str], NoReturn],
) -> subprocess.Popen[bytes] | None:
    """Start ``argv`` (stdout and stderr appended to ``log_path``, its own session) and poll until ``ready()``.

    The process once ready; None if it exited saying its address was in use. ``fail`` is called with what went
    wrong when it exits otherwise, or (after a SIGKILL) when it is not ready within ``timeout`` seconds.
    """
    offset = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=cwd, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if ADDRESS_IN_USE in log_since(log_path, offset).lower():
                return None
            fail("exited at startup")
        if ready():
            return proc
        time.sleep(poll_s)
    proc.kill()
    proc.wait()
    fail("did not start")


class StartStop:
    """``with`` for what is started and stopped (brokers, clusters, proxies): start on entry, stop on exit."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
