"""The fleet load generator: hundreds of light simulated devices per process over many stores, for tests and benches.

`Fleet(workdir, endpoints, stores=20, devices=200).start()` runs every device on one asyncio loop in a thread of
its own (simulators/fleet/device.py: one paho 3.1.1 client each, no thread each), with one durable queue file
(simulators/fleet/queue.py). A test calls `add_ops(k)`, `wait_drained()`, then compares `expected_carts()` with
the platform's carts; a bench reads `report()` (reconnect times, applied latencies).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self, TypeVar

from edge_agent.contract.topics import Topics
from edge_agent.domain.hlc import HybridClock
from edge_agent.domain.ops import CartOp, OpKind, make_op_id
from edge_agent.identifiers.gtin import gtin_check_digit, normalise_gtin
from edge_agent.store.db import new_epoch
from edge_agent.store.device import wall_clock_ms
from simulators.fleet import const
from simulators.fleet.device import DeviceSettings, FleetEvents, SimDevice
from simulators.fleet.queue import DurableQueue

__all__ = ["DeviceSettings", "Fleet", "FleetReport", "store_id"]

T = TypeVar("T")
SKUS = tuple(normalise_gtin(b + str(gtin_check_digit(b))) for b in const.SKU_BODIES)


def store_id(index: int) -> str:
    return f"s{index:03d}"


@dataclass(frozen=True)
class FleetReport:
    devices: int
    connected: int
    created: int
    confirmed: int
    unconfirmed: int
    connects: int
    connect_failures: int
    resent_after_timeout: int
    latency_p50_s: float
    latency_p99_s: float


class Fleet:
    """``devices`` simulated devices spread round-robin over ``stores`` stores and over the endpoints (device i
    tries endpoint i mod n first, so a node carries 1/n of the fleet)."""

    def __init__(
        self,
        workdir: Path,
        endpoints: Sequence[tuple[str, int]],
        *,
        stores: int,
        devices: int,
        settings: DeviceSettings | None = None,
        tenant: str = const.TENANT,
        seed: int = 0,
    ) -> None:
        self.workdir = Path(workdir)
        self.endpoints = list(endpoints)
        self.n_stores, self.n_devices = stores, devices
        self.settings = settings or DeviceSettings()
        self.tenant = tenant
        self.events = FleetEvents()
        self._rng = random.Random(seed)
        self._devices: list[SimDevice] = []
        self._clocks: dict[str, HybridClock] = {}
        self._seqs: dict[str, int] = {}
        self._expected: dict[str, Counter[str]] = {}
        self._queue: DurableQueue | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._ready = threading.Event()

    # --- lifecycle (test's thread) --------------------------------------------------------------------------
    def start(self) -> Self:
        self._thread = threading.Thread(target=self._main, name="fleet-loop", daemon=True)
        self._thread.start()
        if not self._ready.wait(const.CALL_TIMEOUT_S):
            raise RuntimeError("the fleet's loop did not start")
        self.call(self._spawn)
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        self.call(self._halt)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(const.CALL_TIMEOUT_S)
        if self._queue is not None:
            self._queue.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, fn: Callable[[], T]) -> T:
        """Run fn on the fleet's loop (device state is touched only there) and return its result."""
        assert self._loop is not None

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(const.CALL_TIMEOUT_S)

    # --- driving (test's thread) ----------------------------------------------------------------------------
    def add_ops(self, per_device: int) -> int:
        """Each device scans ``per_device`` products into its basket (entry.add ops, committed, then sent)."""
        return self.call(lambda: self._add_ops(per_device))

    def expected_carts(self) -> dict[str, dict[str, int]]:
        """cart id -> sku -> quantity: what the platform must hold once the fleet is drained."""
        return self.call(lambda: {cart: dict(c) for cart, c in self._expected.items()})

    def drained(self) -> bool:
        """Every device connected and every op it created confirmed by the platform's watermark."""
        return self.call(lambda: all(d.connected and d.unconfirmed == 0 for d in self._devices))

    def wait_connected(self, timeout: float, poll_s: float = 0.2) -> float:
        """Block until every device is connected; the seconds it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.call(lambda: all(d.connected for d in self._devices)):
                return time.monotonic() - start
            time.sleep(poll_s)
        raise AssertionError(
            f"fleet not connected after {timeout:g}s: {self.report()}; stragglers: {self.stragglers()}"
        )

    def wait_drained(self, timeout: float, poll_s: float = 0.2) -> float:
        """Block until drained; the seconds it took. AssertionError with the stragglers if it never happens."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.drained():
                return time.monotonic() - start
            time.sleep(poll_s)
        raise AssertionError(f"fleet not drained after {timeout:g}s: {self.report()}; stragglers: {self.stragglers()}")

    def stragglers(self, limit: int = 5) -> list[str]:
        return self.call(
            lambda: [
                f"{d.device}@{d.endpoint[1]} connected={d.connected} unconfirmed={d.unconfirmed} {d.counters}"
                for d in self._devices
                if not (d.connected and d.unconfirmed == 0)
            ][:limit]
        )

    def devices_on(self, port: int) -> list[str]:
        """Ids of the devices connected through this endpoint port right now."""
        return self.call(lambda: [d.device for d in self._devices if d.connected and d.endpoint[1] == port])

    def connect_times(self) -> list[float]:
        return self.call(lambda: list(self.events.connect_times))

    def connects_by_device(self) -> dict[str, int]:
        """Each device's CONNACKs so far: compared before and after a fault, which devices it dropped."""
        return self.call(lambda: {d.device: d.counters.connects for d in self._devices})

    def report(self) -> FleetReport:
        return self.call(self._report)

    # --- on the loop ----------------------------------------------------------------------------------------
    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def _spawn(self) -> None:
        loop = asyncio.get_running_loop()
        self._queue = queue = DurableQueue(self.workdir / "fleet-queue.db")
        for i in range(self.n_devices):
            store = store_id(i % self.n_stores)
            device = f"fl-{store}-{i // self.n_stores:04d}"
            epoch, issued = queue.identity(device, new_epoch())
            first = i % len(self.endpoints)
            turn = [*self.endpoints[first:], *self.endpoints[:first]]
            sim = SimDevice(
                loop, Topics(self.tenant, store, device), epoch, turn, self.settings, self.events, queue.pending(device)
            )
            self._clocks[device] = HybridClock(wall_clock_ms)
            self._seqs[device] = issued
            self._expected[sim.cart_id] = Counter()
            self._devices.append(sim)
            sim.start(self._rng.uniform(0, const.STARTUP_SPREAD_S))
        self._ticker = loop.create_task(self._tick_forever())

    def _add_ops(self, per_device: int) -> int:
        assert self._queue is not None
        rows: list[tuple[str, int, str, float]] = []
        made: list[tuple[SimDevice, int, str, int, float]] = []
        now = time.time()
        for sim in self._devices:
            for _ in range(per_device):
                seq = self._seqs[sim.device] = self._seqs[sim.device] + 1
                sku = self._rng.choice(SKUS)
                op = CartOp(
                    op_id=make_op_id(sim.device, sim.epoch, seq),
                    uuid=uuid.uuid4(),
                    device=sim.device,
                    epoch=sim.epoch,
                    seq=seq,
                    cart_id=sim.cart_id,
                    kind=OpKind.ADD,
                    hlc=self._clocks[sim.device].now(),
                    sku=sku,
                    qty=1,
                )
                body = op.model_dump_json(exclude_none=True)
                rows.append((sim.device, seq, body, now))
                made.append((sim, seq, body, op.hlc, now))
                self._expected[sim.cart_id][sku] += 1
        self._queue.append(rows)  # group commit: durable before any is sent
        for sim, seq, body, hlc, at in made:
            sim.enqueue(seq, body, hlc, at)
        for sim in self._devices:
            sim.flush()
        return len(rows)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(const.TICK_S)
            now = time.monotonic()
            for sim in self._devices:
                sim.tick(now)
            if self.events.deletes and self._queue is not None:
                self._queue.delete(self.events.deletes)
                self.events.deletes.clear()

    def _halt(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for sim in self._devices:
            sim.stop()
        if self.events.deletes and self._queue is not None:
            self._queue.delete(self.events.deletes)
            self.events.deletes.clear()

    def _report(self) -> FleetReport:
        lat = sorted(self.events.latencies_s)
        quantiles = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [lat[0] if lat else 0.0] * 99
        c = [d.counters for d in self._devices]
        return FleetReport(
            devices=len(self._devices),
            connected=sum(d.connected for d in self._devices),
            created=sum(x.created for x in c),
            confirmed=sum(x.confirmed for x in c),
            unconfirmed=sum(d.unconfirmed for d in self._devices),
            connects=sum(x.connects for x in c),
            connect_failures=sum(x.connect_failures for x in c),
            resent_after_timeout=sum(x.resent_after_timeout for x in c),
            latency_p50_s=quantiles[49],
            latency_p99_s=quantiles[98],
        )
