"""A private PostgreSQL 15 server for tests and benches: initdb + pg_ctl on a free port in its own directory.

Like simulators/broker.py for Mosquitto: never the machine's standard port, one directory owned by the server,
stopped (fast shutdown) when done. ``initdb`` and ``postgres`` refuse to run as root, so under root the server
runs as the ``postgres`` system user (Debian's ``postgresql`` package creates it) via ``runuser``.
A database per test run (:meth:`PostgresServer.create_database`), so runs never see each other's rows.

Run alone: ``python -m simulators.postgres --dir var/pg`` prints a DSN and serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg

from simulators.broker import HOST, free_port

__all__ = ["PostgresServer", "find_pg_bin"]

PG_BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"),)
SERVICE_USER = "postgres"
START_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.1
MAX_CONNECTIONS = 200
"""Workers, the tests' readers and a bench's 4 workers with headroom; the default 100 is enough but tight."""


def find_pg_bin() -> Path:
    """The directory holding initdb and pg_ctl; fails loudly (scripts/bootstrap.sh installs ``postgresql``)."""
    for d in PG_BIN_DIRS:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    raise RuntimeError(f"PostgreSQL binaries not found in {', '.join(map(str, PG_BIN_DIRS))}; run scripts/bootstrap.sh")


class PostgresServer:
    def __init__(self, base_dir: Path, port: int | None = None) -> None:
        self._as_root = os.geteuid() == 0
        self._private = self._as_root  # a root-owned tmp dir (pytest's is 0700) is out of the service user's reach
        self.base_dir = Path(tempfile.mkdtemp(prefix="edge-agent-pg-")) if self._private else Path(base_dir)
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_path = self.base_dir / "postgres.log"
        self.port = port or free_port()
        self.host = HOST
        self._bin = find_pg_bin()

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={SERVICE_USER} dbname={dbname}"

    def start(self, timeout: float = START_TIMEOUT_S) -> Self:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self._as_root:  # the server's files belong to the user it runs as
            user = pwd.getpwnam(SERVICE_USER)
            for path in (self.base_dir, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", SERVICE_USER, "--auth=trust", "--encoding=UTF8", "--locale=C"
            )
        options = (
            f"-c port={self.port} -c listen_addresses={self.host} -c unix_socket_directories={self.socket_dir} "
            f"-c max_connections={MAX_CONNECTIONS}"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout)),
            "start",
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2):
                    return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL did not accept connections on {self.port}:\n{self.log_tail()}"
                    ) from None
                time.sleep(POLL_INTERVAL_S)

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", check=False)
        if self._private:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def create_database(self, name: str | None = None) -> str:
        """A fresh database (byte-order collation, as SQLite compares text); returns its DSN."""
        name = name or f"run_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
        return self.dsn(name)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        cmd = [str(self._bin / tool), *args]
        if self._as_root:
            cmd = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", SERVICE_USER, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd="/")
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{self.log_tail()}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.postgres", description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("var/pg"))
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    with PostgresServer(args.dir.resolve(), args.port) as server:
        print(server.create_database(), flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
