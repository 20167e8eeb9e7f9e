"""The timed platform simulator in a process of its own, so its apply never competes with the agent for the GIL.

In one process the central's paho thread waits for the GIL while the agent's loop runs Python (the screen feed,
the scan's events), up to the interpreter's 5 ms switch interval: a stall of the bench, not of a device, whose
platform is another machine. Here ``_common.TimedCentral`` runs in a spawned child; it stamps ``perf_counter()``
when each ops batch's transaction committed and its watermark was published (the ``committed`` hook) and sends
the stamps down a pipe. ``perf_counter`` is CLOCK_MONOTONIC on Linux, one clock for every process of the machine,
so the stamps compare with the bench's own. The child also times each ``handle_many`` that applied ops (the
platform's share of the path: what arrived together, in one transaction), its own CPU, by thread too (paho's
network thread against the apply thread: which side of the hand-off costs what), and its garbage collections
(``gc.callbacks``: a collection on the apply path is a stall of every device's latency). The parent reads the
pipe only in :meth:`CentralProcess.wait_applied`, on the bench's thread: no extra thread in the agent's process.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import multiprocessing
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

OPS_LEAF = "/ops"
"""The topic leaf of a device's ops batches (edge_agent.contract.topics)."""
READY_WAIT_S = 30.0
STOP_WAIT_S = 15.0


def thread_cpu_s() -> dict[str, float]:
    """CPU seconds of each live thread of this process, by name."""
    out: dict[str, float] = {}
    for t in threading.enumerate():
        if t.ident is not None:
            with contextlib.suppress(OSError, ProcessLookupError):
                out[t.name] = out.get(t.name, 0.0) + time.clock_gettime(time.pthread_getcpuclockid(t.ident))
    return out


class GcPauses:
    """Each garbage collection as (perf_counter at its start, seconds), from ``gc.callbacks``: a scan whose
    window holds one can be told apart from one that waited on something else."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float]] = []
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((self._started, time.perf_counter() - self._started))


def _child(db_path: str, host: str, port: int, conn: Connection) -> None:
    import _common as c

    from simulators.central.cli import freeze_startup_heap

    class PipedCentral(c.TimedCentral):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.handle_s: list[float] = []
            self.messages_received = 0
            self.ops_received: collections.deque[float] = collections.deque()
            """When paho's thread handed each ops message over (before the apply thread took it), in order."""

        def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
            if msg.topic.endswith(OPS_LEAF):
                self.ops_received.append(time.perf_counter())
            super()._on_message(client, userdata, msg)

        def handle_many(self, messages: Sequence[tuple[str, bytes]]) -> list[bool]:
            before = len(self.applied_at)
            self.messages_received += len(messages)
            started = time.perf_counter()
            received = [self.ops_received.popleft() for t, _p in messages if t.endswith(OPS_LEAF) and self.ops_received]
            oks = super().handle_many(messages)
            if len(self.applied_at) > before:
                self.handle_s.append(time.perf_counter() - started)
                stamps = self.applied_at[before:]
                if len(received) != len(stamps):  # several ops in a batch: each gets the group's first arrival
                    received = [received[0] if received else started] * len(stamps)
                conn.send([(got, started, at) for got, at in zip(received, stamps, strict=True)])
            return oks

    central = PipedCentral(Path(db_path), host, port).start()
    freeze_startup_heap()  # as `python -m simulators.central` does
    gc_pauses = GcPauses()
    gc.callbacks.append(gc_pauses)
    cpu0, threads0 = time.process_time(), thread_cpu_s()
    conn.send("ready")
    conn.recv()  # "stop"
    cpu, threads1 = time.process_time() - cpu0, thread_cpu_s()
    gc.callbacks.remove(gc_pauses)
    central.stop()
    threads = {name: threads1[name] - threads0[name] for name in threads1 if name in threads0}
    counts = {"transactions": central.stats.transactions, "messages": central.messages_received}
    conn.send({"handle_s": central.handle_s, "cpu_s": cpu, "threads_s": threads, "gc": gc_pauses.pauses, **counts})
    conn.close()


@dataclass
class CentralProcess:
    """The parent's end: ``applied_at`` (perf_counter per applied op, in order), ``received_at`` (paho's thread
    handed its batch over), ``taken_at`` (the ``handle_many`` that applied it began) and, after stop, the child's
    ``handle_s`` (seconds per applied group), ``cpu_s``, ``threads_s`` (CPU seconds by thread name), ``gc``
    (each garbage collection: start, seconds) and ``counts`` (its apply transactions, and the messages it received)."""

    db_path: Path
    host: str
    port: int
    applied_at: list[float] = field(default_factory=list)
    taken_at: list[float] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)
    handle_s: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    threads_s: dict[str, float] = field(default_factory=dict)
    gc: list[tuple[float, float]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    _proc: Any = None
    _conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> CentralProcess:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_child, args=(str(self.db_path), self.host, self.port, child), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        if not parent.poll(READY_WAIT_S) or parent.recv() != "ready":
            raise RuntimeError("the central simulator process did not start")
        return self

    def wait_applied(self, count: int, timeout: float) -> float:
        assert self._conn is not None
        deadline = time.monotonic() + timeout
        while len(self.applied_at) < count:
            left = deadline - time.monotonic()
            if left <= 0 or not self._conn.poll(left):
                raise RuntimeError(f"central applied {len(self.applied_at)}/{count} ops after {timeout}s")
            self._stamps(self._conn.recv())
        return self.applied_at[count - 1]

    def _stamps(self, triples: list[tuple[float, float, float]]) -> None:
        for received, taken, applied in triples:
            self.received_at.append(received)
            self.taken_at.append(taken)
            self.applied_at.append(applied)

    def stop(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            conn.send("stop")
            deadline = time.monotonic() + STOP_WAIT_S
            while conn.poll(max(0.0, deadline - time.monotonic())):
                msg = conn.recv()
                if isinstance(msg, dict):
                    self.handle_s, self.cpu_s = msg["handle_s"], msg["cpu_s"]
                    self.threads_s, self.gc = msg["threads_s"], msg["gc"]
                    self.counts = {k: msg[k] for k in ("transactions", "messages")}
                    break
                self._stamps(msg)
        finally:
            conn.close()
            self._proc.join(STOP_WAIT_S)
            if self._proc.is_alive():
                self._proc.kill()
