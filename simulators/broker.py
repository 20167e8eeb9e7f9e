"""A real Mosquitto broker for tests, on a private port, that can be killed and restarted.

Tests never touch a system broker on 1883: each `MosquittoBroker` owns a config, log and
persistence file in its own workdir, and keeps one port for its whole life so clients can
reconnect to "the same broker" after `kill()` + `restart()`.

`FencedBroker` runs the store broker's shipped fence (deploy/mosquitto/: mTLS listener and per-identity ACL)
instead of an anonymous listener.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from simulators.processes import StartStop, launch_logged

__all__ = ["FencedBroker", "MosquittoBroker", "find_mosquitto"]

HOST = "127.0.0.1"
# Debian installs the broker in /usr/sbin, which is not on a non-root user's PATH.
FALLBACK_MOSQUITTO = Path("/usr/sbin/mosquitto")
# Mosquitto is listening within ~50 ms; a loaded CI runner (or a Pi) can be 100x slower.
START_TIMEOUT_S = 15.0
# SIGTERM makes Mosquitto write its persistence file, which is tiny in tests.
STOP_TIMEOUT_S = 10.0
# How long restart() keeps retrying while the port is still held (TIME_WAIT or a straggler).
REBIND_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.02
# Mosquitto's default of 1,000 queued messages per client silently drops messages in backlog
# tests; the tests that want drops ask for a small queue explicitly.
DEFAULT_MAX_QUEUED = 100_000
LOG_TAIL_CHARS = 4_000


def find_mosquitto() -> Path:
    """Locate the broker binary; tests must fail loudly rather than skip without it."""
    found = shutil.which("mosquitto")
    if found:
        return Path(found)
    if os.access(FALLBACK_MOSQUITTO, os.X_OK):
        return FALLBACK_MOSQUITTO
    raise RuntimeError("mosquitto not found on PATH or at /usr/sbin/mosquitto; run `make test`, which installs it")


def free_port() -> int:
    """Ask the kernel for an unused loopback TCP port; the server (Mosquitto, a screen) binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


class MosquittoBroker(StartStop):
    """One Mosquitto process at a time, always on the same 127.0.0.1 port once started."""

    def __init__(
        self,
        workdir: Path,
        *,
        persistence: bool = False,
        max_queued_messages: int = DEFAULT_MAX_QUEUED,
        max_inflight: int | None = None,
        listener_options: Sequence[str] = (),
    ) -> None:
        # No I/O here, so brokers can be declared in fixtures and started only when needed.
        self._workdir = Path(workdir)
        self._persistence = persistence
        self._max_queued_messages = max_queued_messages
        self._max_inflight = max_inflight
        self._listener_options = tuple(listener_options)  # e.g. TLS: cafile/certfile/keyfile lines
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- properties -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("broker has no port until start() is called")
        return self._port

    @property
    def conf_path(self) -> Path:
        return self._workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self._workdir / "mosquitto.log"

    @property
    def db_path(self) -> Path:
        """Where Mosquitto writes its persistence file (only when persistence is on)."""
        return self._workdir / "mosquitto.db"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def log_text(self) -> str:
        """The whole broker log across restarts, including startup errors."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start on a fresh free port, or on the remembered one if this broker ran before."""
        if self.running:
            raise RuntimeError(f"broker already running on port {self._port}")
        binary = find_mosquitto()
        self._workdir.mkdir(parents=True, exist_ok=True)
        if self._port is None:
            self._start_on_new_port(binary)
        else:
            self._start_on_same_port(binary)

    def restart(self) -> None:
        """Stop (if still running) and start again on the same port, e.g. after kill()."""
        if self.running:
            self.stop()
        self.start()

    def stop(self) -> None:
        """Graceful stop: SIGTERM lets Mosquitto save persistence and close clients cleanly."""
        self._signal_and_wait(signal.SIGTERM)

    def kill(self) -> None:
        """Crash stop: SIGKILL loses whatever Mosquitto had not saved yet."""
        self._signal_and_wait(signal.SIGKILL)

    # -- internals --------------------------------------------------------------------------

    def _start_on_new_port(self, binary: Path) -> None:
        # Another process can take the port between our probe and Mosquitto's bind; until the
        # broker has run once nobody depends on the number, so just pick another.
        deadline = time.monotonic() + REBIND_TIMEOUT_S
        while True:
            port = free_port()
            if self._launch(binary, port):
                self._port = port
                return
            if time.monotonic() > deadline:
                self._raise_start_failure(port)

    def _start_on_same_port(self, binary: Path) -> None:
        # Clients were told this port; retry briefly while the old socket is released.
        port = self.port
        deadline = time.monotonic() + REBIND_TIMEOUT_S
        while not self._launch(binary, port):
            if time.monotonic() > deadline:
                self._raise_start_failure(port)
            time.sleep(POLL_INTERVAL_S * 5)

    def _launch(self, binary: Path, port: int) -> bool:
        """Run Mosquitto; True once it accepts TCP, False if the port was taken."""
        self._write_conf(port)
        # stderr goes to the log file (log_dest stderr) so config errors printed before
        # logging is set up land in the same place as everything else.
        self._proc = launch_logged(
            [str(binary), "-c", str(self.conf_path)],
            cwd=self._workdir,
            log_path=self.log_path,
            ready=lambda: _accepts_connections(port),
            timeout=START_TIMEOUT_S,
            poll_s=POLL_INTERVAL_S,
            fail=lambda _what: self._raise_start_failure(port),
        )
        return self._proc is not None

    def _write_conf(self, port: int) -> None:
        lines = [
            f"listener {port} {HOST}",
            *self._listener_options,
            "allow_anonymous true",
            # Nagle + delayed ACK hold small QoS 1 packets for up to 40 ms; a store broker should set this too.
            "set_tcp_nodelay true",
            f"max_queued_messages {self._max_queued_messages}",
            *self._process_lines(),
        ]
        self.conf_path.write_text("\n".join(lines) + "\n")

    def _process_lines(self) -> list[str]:
        """Logging, user, inflight and persistence: what every test broker adds to its listener's lines."""
        lines = [
            "log_dest stderr",
            # `log_type all` logs every packet and drowns the failures we read logs for.
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if os.geteuid() == 0:
            # As root, Mosquitto drops to the "mosquitto" user and then cannot write to the
            # test's workdir; naming the current user keeps it as is.
            lines.append(f"user {pwd.getpwuid(os.geteuid()).pw_name}")
        if self._max_inflight is not None:
            lines.append(f"max_inflight_messages {self._max_inflight}")
        if self._persistence:
            if any(ch.isspace() for ch in str(self._workdir)):
                raise ValueError(f"mosquitto.conf paths cannot contain whitespace: {self._workdir}")
            lines += [
                "persistence true",
                f"persistence_location {self._workdir}/",
                f"persistence_file {self.db_path.name}",
                # Save after every change instead of every 30 min, so kill -9 tests model the
                # most durable Mosquitto setup rather than "persistence that never saved".
                "autosave_on_changes true",
                "autosave_interval 1",
            ]
        return lines

    def _signal_and_wait(self, sig: signal.Signals) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"mosquitto ignored {sig.name}; killed it\n{self._log_tail()}") from None

    def _log_tail(self) -> str:
        return self.log_text()[-LOG_TAIL_CHARS:]

    def _raise_start_failure(self, port: int) -> NoReturn:
        raise RuntimeError(
            f"mosquitto did not start on {HOST}:{port} within {START_TIMEOUT_S}s; log tail:\n{self._log_tail()}"
        )


DEPLOY_DIR = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto"
SHIPPED_CONF = DEPLOY_DIR / "edge-agent.conf"
SHIPPED_ACL = DEPLOY_DIR / "edge-agent.acl"
# What the shipped config names, and what FencedBroker rewrites (nothing else).
SHIPPED_LISTENER = "listener 8883"
SHIPPED_FENCE_DIR = "/etc/mosquitto/edge-agent/"
# The broker's side of scripts/store-pki.sh's output, copied next to the ACL as on a store broker.
BROKER_PKI_FILES = ("ca.crt", "broker.crt", "broker.key", "crl.pem")


class FencedBroker(MosquittoBroker):
    """Mosquitto running exactly the shipped fence: deploy/mosquitto/edge-agent.conf and edge-agent.acl.

    The config is copied with two rewrites only: its `listener 8883` becomes this broker's private port on
    127.0.0.1, and /etc/mosquitto/edge-agent/ becomes `workdir/edge-agent/`, which holds the PKI files from
    `pki_dir` (made by scripts/store-pki.sh) and the ACL, verbatim. Then the same logging and user lines as
    MosquittoBroker; never `allow_anonymous true`. TLS settings and max_queued_messages are the shipped ones.
    """

    def __init__(
        self,
        workdir: Path,
        pki_dir: Path,
        *,
        persistence: bool = False,
        max_inflight: int | None = None,
        conf_file: Path = SHIPPED_CONF,
        acl_file: Path = SHIPPED_ACL,
    ) -> None:
        super().__init__(workdir, persistence=persistence, max_inflight=max_inflight)
        self._pki_dir = Path(pki_dir)
        self._conf_file = Path(conf_file)
        self._acl_file = Path(acl_file)

    @property
    def fence_dir(self) -> Path:
        """This broker's /etc/mosquitto/edge-agent/."""
        return self._workdir / "edge-agent"

    def _write_conf(self, port: int) -> None:
        fence = self.fence_dir
        if any(ch.isspace() for ch in str(fence)):
            raise ValueError(f"mosquitto.conf paths cannot contain whitespace: {fence}")
        fence.mkdir(parents=True, exist_ok=True)
        for name in BROKER_PKI_FILES:
            shutil.copyfile(self._pki_dir / name, fence / name)
        (fence / "broker.key").chmod(0o600)
        shutil.copyfile(self._acl_file, fence / self._acl_file.name)
        shipped = self._conf_file.read_text().splitlines()
        listeners = [i for i, line in enumerate(shipped) if line.strip() == SHIPPED_LISTENER]
        if len(listeners) != 1 or not any(SHIPPED_FENCE_DIR in line for line in shipped):
            raise ValueError(
                f"{self._conf_file}: expected one `{SHIPPED_LISTENER}` and paths under {SHIPPED_FENCE_DIR}"
            )
        lines = [line.replace(SHIPPED_FENCE_DIR, f"{fence}/") for line in shipped]
        lines[listeners[0]] = f"listener {port} {HOST}"
        self.conf_path.write_text("\n".join([*lines, *self._process_lines()]) + "\n")
