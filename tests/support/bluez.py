"""Fixtures for the BLE tests: one private system bus per run, a fresh fake BlueZ per test, and a running
BleReader whose events a test waits for (generous timeouts, never asserted durations).

Import into a test module with ``from tests.support.bluez import fake_bluez, system_bus  # noqa: F401``.
A missing dbus-daemon or python-dbusmock fails these tests; nothing here skips.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from edge_agent.readers.ble.config import BleConfig
from edge_agent.readers.ble.events import BleEvent
from edge_agent.readers.ble.reader import BleReader
from edge_agent.readers.events import ReaderEvent
from simulators.beacons import FakeBlueZ, PrivateSystemBus

__all__ = ["RunningReader", "fake_bluez", "system_bus"]

WAIT_S = 15.0
"""Longest wait for an expected event; far above any expected latency (ms) on a busy 2-core box."""
T = TypeVar("T")
Event = ReaderEvent | BleEvent


@pytest.fixture(scope="session")
def system_bus() -> Iterator[PrivateSystemBus]:
    with PrivateSystemBus() as bus:
        yield bus


@pytest.fixture
def fake_bluez(system_bus: PrivateSystemBus) -> Iterator[FakeBlueZ]:
    with FakeBlueZ() as fake:
        yield fake


class RunningReader:
    """``async with RunningReader(config) as r:`` runs ``BleReader.run`` on this loop until the block ends."""

    def __init__(self, config: BleConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.events: list[Event] = []
        self.reader = BleReader(config, self.events.append, clock=clock)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RunningReader:
        self._task = asyncio.create_task(self.reader.run(self._stop))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._stop.set()
        assert self._task is not None
        await asyncio.wait_for(self._task, WAIT_S)  # run() must end, and must not raise

    async def wait_for(self, predicate: Callable[[Event], bool], start: int = 0, timeout: float = WAIT_S) -> Event:
        """The first event from index ``start`` on that matches; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events[start:]:
                if predicate(event):
                    return event
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching event within {timeout} s; got {self.events[start:]!r}")
            await asyncio.sleep(0.02)

    async def until(self, condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout} s; events {self.events!r}")
            await asyncio.sleep(0.02)

    @staticmethod
    async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking dbus-python call off the loop, so bleak keeps receiving signals meanwhile."""
        return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kwargs))
