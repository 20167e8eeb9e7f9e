"""The platform as horizontally scaled workers: ``python -m simulators.workers --nats URLS --dsn DSN --name w1``.

Each process is one :class:`simulators.platform.worker.PlatformWorker`; start as many as you like over one
PostgreSQL database and one NATS (cluster): JetStream's durable consumer shares the uplinks between them. It prints
``ready <name>`` once it consumes, and its counters as JSON when stopped (SIGTERM, SIGINT).

``python -m simulators.workers erase --nats URLS --dsn DSN --cart C --tenant T --store S --request-id R`` erases a
shopper's cart (simulators/platform/erasure.py): committed, then the store's devices are asked to forget it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg

from edge_agent.domain.cart import quantities
from simulators.platform.const import ACK_WAIT_S
from simulators.platform.erasure import erase_shopper
from simulators.platform.pg_store import PgStore
from simulators.platform.worker import PlatformWorker

__all__ = ["PlatformReader", "WorkerPool", "WorkerProcess"]

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
REPO = Path(__file__).resolve().parents[1]


class WorkerProcess:
    """One worker as a real process (for tests and benches, SIGKILL included); its log is kept."""

    def __init__(
        self,
        name: str,
        nats_urls: list[str],
        dsn: str,
        log_dir: Path,
        *,
        replicas: int = 3,
        ack_wait_s: float = ACK_WAIT_S,
    ) -> None:
        self.name = name
        self.log_path = Path(log_dir) / f"{name}.log"
        self._args = ["--nats", ",".join(nats_urls), "--dsn", dsn, "--name", name, "--replicas", str(replicas)]
        self._args += ["--ack-wait", str(ack_wait_s)]
        self.proc: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self.stats_line = ""

    def start(self, timeout: float = READY_TIMEOUT_S) -> Self:
        return self.launch().wait_ready(timeout)

    def launch(self) -> Self:
        """Start the process without waiting (launch several, then wait for each: they start side by side)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulators.workers", *self._args],
            stdout=subprocess.PIPE,
            stderr=self.log_path.open("wb"),
            cwd=REPO,
            env=env,
        )
        self._ready = threading.Event()
        threading.Thread(target=self._read_stdout, args=(self._ready,), name=f"{self.name}-out", daemon=True).start()
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> Self:
        if not self._ready.wait(timeout):
            self.kill()
            raise RuntimeError(f"worker {self.name} did not get ready:\n{self.log_text()[-2000:]}")
        return self

    def _read_stdout(self, ready: threading.Event) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("ready "):
                ready.set()
            elif line.startswith("{"):
                self.stats_line = line

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None) -> None:
        self.stop()


class WorkerPool:
    """N workers over one database and one cluster, as the tests and benches start them: launched side by side (none
    drains a backlog alone while the others still import), each waited for, all stopped together."""

    def __init__(
        self,
        nats_urls: list[str],
        dsn: str,
        log_dir: Path,
        *,
        prefix: str = "w",
        replicas: int = 3,
        ack_wait_s: float = ACK_WAIT_S,
    ) -> None:
        self._urls, self._dsn, self._log_dir, self._prefix = nats_urls, dsn, Path(log_dir), prefix
        self._replicas, self._ack_wait_s = replicas, ack_wait_s
        self.workers: list[WorkerProcess] = []

    def start(
        self, n: int, *, ack_wait_s: float | None = None, timeout: float = READY_TIMEOUT_S
    ) -> list[WorkerProcess]:
        """N more workers (named ``{prefix}1``, ``{prefix}2``, ... across calls), ready when this returns."""
        batch = [
            WorkerProcess(
                f"{self._prefix}{len(self.workers) + i + 1}",
                self._urls,
                self._dsn,
                self._log_dir,
                replicas=self._replicas,
                ack_wait_s=self._ack_wait_s if ack_wait_s is None else ack_wait_s,
            )
            for i in range(n)
        ]
        self.workers += batch
        for w in batch:
            w.launch()
        for w in batch:
            w.wait_ready(timeout)
        return batch

    def stop(self) -> None:
        """SIGTERM to every worker first, then wait for each: they drain side by side too."""
        for w in self.workers:
            if w.proc is not None and w.running():
                w.proc.send_signal(signal.SIGTERM)
        for w in self.workers:
            w.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None) -> None:
        self.stop()


class PlatformReader:
    """What the workers' database holds, read the way a platform's API would: carts, applied ops, counters."""

    def __init__(self, dsn: str) -> None:
        self._conn: psycopg.Connection[Any] = psycopg.connect(dsn, autocommit=True)

    def cart(self, cart_id: str) -> dict[str, int]:
        return quantities(PgStore(self._conn).live_entries(cart_id))

    def applied_count(self) -> int:
        """Rows of applied_ops: one per (device, epoch, seq), whichever worker applied it."""
        row = self._conn.execute("SELECT count(*) FROM applied_ops").fetchone()
        return int(row[0]) if row else 0

    def applied_span(self) -> tuple[int, float, float]:
        """(ops applied, first and last apply time): the workers' own clock, for a rate over exactly the work."""
        row = self._conn.execute("SELECT count(*), min(applied_at), max(applied_at) FROM applied_ops").fetchone()
        assert row is not None
        return int(row[0]), float(row[1] or 0.0), float(row[2] or 0.0)

    def applied_by_worker(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT worker, count(*) FROM applied_ops GROUP BY worker").fetchall()
        return {str(w): int(n) for w, n in rows}

    def refused_by_dedupe(self) -> int:
        """Ops the workers received again (a device's resend, a redelivery) and the dedupe key refused."""
        row = self._conn.execute("SELECT coalesce(sum(ops_duplicate), 0) FROM worker_counters").fetchone()
        return int(row[0]) if row else 0

    def counted_by_workers(self) -> int:
        """The sum of every worker's own count of new ops it applied (written in its apply transactions)."""
        row = self._conn.execute("SELECT coalesce(sum(ops_applied), 0) FROM worker_counters").fetchone()
        return int(row[0]) if row else 0

    def waiting_on_locks(self) -> list[str]:
        """Workers (by connection application_name) whose transaction waits on a row lock right now."""
        rows = self._conn.execute(
            "SELECT application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name <> ''"
        ).fetchall()
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        self._conn.close()


async def serve(worker: PlatformWorker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(worker.run(stop))
    ready = asyncio.create_task(worker.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if worker.ready.is_set():
        print(f"ready {worker.name}", flush=True)
    await task


def erase_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.workers erase", description="erase a shopper's cart")
    parser.add_argument("--nats", required=True, help="comma-separated NATS URLs")
    parser.add_argument("--dsn", required=True, help="the workers' PostgreSQL database")
    parser.add_argument("--cart", required=True, help="the shopper's profile cart")
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--store", required=True, help="the cart's home store, whose devices are asked to forget it")
    parser.add_argument("--request-id", required=True, help="the erasure request's id (devices answer with it)")
    args = parser.parse_args(argv)
    erase_shopper(args.dsn, args.nats.split(","), args.cart, args.tenant, args.store, args.request_id)
    print(f"erased {args.cart}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["erase"]:
        return erase_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m simulators.workers", description=__doc__.split("\n")[0])
    parser.add_argument("--nats", required=True, help="comma-separated NATS URLs (every node of the cluster)")
    parser.add_argument("--dsn", required=True, help="the PostgreSQL database every worker shares")
    parser.add_argument("--name", required=True, help="this worker's name (its counters' key)")
    parser.add_argument("--replicas", type=int, default=3, help="replicas of the uplink stream (1 on a single node)")
    parser.add_argument(
        "--ack-wait", type=float, default=ACK_WAIT_S, help="seconds before an un-acked uplink is redelivered"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.name} %(levelname)s %(message)s")
    worker = PlatformWorker(args.nats.split(","), args.dsn, args.name, replicas=args.replicas, ack_wait_s=args.ack_wait)
    asyncio.run(serve(worker))
    print(json.dumps(dataclasses.asdict(worker.stats)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
