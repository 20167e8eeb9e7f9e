"""A failure that lasts for hours never breaks a retry loop: 10,000 consecutive failures through the real retry
path of the NFC reader (reopen), the BLE reader (scanner recovery) and the MQTT link (reconnect), each with
its production backoff settings, in virtual time (the loops' own waiting seams), without an exception.

An uncapped ``base * 2**attempt`` raised OverflowError after ~1,000 failed opens, which ended the NFC reader's
thread silently; one capped backoff (edge_agent/backoff.py) now serves all three.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from edge_agent import const
from edge_agent.backoff import FullJitterBackoff, full_jitter_ceiling
from edge_agent.readers.ble import const as ble_const
from edge_agent.readers.ble.config import BleConfig
from edge_agent.readers.ble.reader import BleReader
from edge_agent.readers.events import ReaderEvent, ReaderHealth
from edge_agent.readers.nfc.reader import Frontend, NfcReader
from edge_agent.sync.link import LinkSettings, MqttLink

FAILURES = 10_000


def test_the_backoff_ceiling_is_finite_and_capped_for_any_attempt() -> None:
    for attempt in (0, 1, 31, 32, 33, 1023, 1024, 1075, 10**6):
        assert full_jitter_ceiling(const.DEFAULT_BACKOFF_BASE_S, const.DEFAULT_BACKOFF_CAP_S, attempt) <= (
            const.DEFAULT_BACKOFF_CAP_S
        )
    backoff = FullJitterBackoff(const.NFC_REOPEN_BASE_S, const.NFC_REOPEN_CAP_S, attempt=10**6)
    assert 0 <= backoff.next_delay() <= const.NFC_REOPEN_CAP_S


class VirtualStop(threading.Event):
    """The NFC reader's stop event, whose ``wait`` records the backoff instead of sleeping it."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        return self.is_set()


def test_the_nfc_reader_survives_10000_failed_opens() -> None:
    stop = VirtualStop()
    events: list[ReaderEvent] = []
    opens = 0

    def unplugged(_path: str) -> Frontend:
        nonlocal opens
        opens += 1
        if opens >= FAILURES:
            stop.set()
        raise OSError(19, "No such device")  # what nfcpy raises for an unplugged reader

    reader = NfcReader("usb", events.append, open=unplugged)
    reader.run(stop)  # in this thread: an exception would fail the test

    states = [e.state for e in events if isinstance(e, ReaderHealth)]
    assert opens == FAILURES
    assert states == ["degraded"] * FAILURES + ["stopped"]
    assert len(stop.waits) == FAILURES
    assert all(0 <= w <= const.NFC_REOPEN_CAP_S for w in stop.waits)
    assert max(stop.waits) > const.NFC_REOPEN_CAP_S / 2, "the delay grows to the cap"


def test_the_ble_reader_survives_10000_failed_scanner_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No system bus at all (bluetoothd's host is down): every adapter check fails before a scanner can start.
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-system-bus'}")
    now = [0.0]
    events: list[object] = []
    stop = asyncio.Event()

    async def virtual_wait(stop_: asyncio.Event, seconds: float) -> None:
        now[0] += seconds
        if reader.counts["backoff_retries"] >= FAILURES:
            stop_.set()

    reader = BleReader(BleConfig(), events.append, clock=lambda: now[0], wall=lambda: now[0], wait=virtual_wait)
    asyncio.run(reader.run(stop))  # run() must end, and must not raise

    health = [e for e in events if isinstance(e, ReaderHealth)]
    assert reader.counts["backoff_retries"] == FAILURES
    assert [h.state for h in health] == ["degraded", "stopped"]  # the same failure again stays quiet
    assert health[0].detail.startswith("bluez_unreachable")
    assert now[0] <= FAILURES * ble_const.DEFAULT_ADAPTER_BACKOFF_CAP_S + ble_const.HOUSEKEEPING_TICK_S
    assert now[0] > FAILURES * ble_const.HOUSEKEEPING_TICK_S, "every retry waited at least a tick"


class _Enough(Exception):
    pass


class _Listener:
    def link_up(self, receive_maximum: int, session_present: bool) -> None:
        raise AssertionError("nothing listens on the refused port")

    def link_down(self, reason: str) -> None:
        pass

    def published(self, mid: int, ok: bool, reason: str) -> None:
        pass

    def message(self, topic: str, payload: bytes, correlation: bytes | None = None) -> None:
        pass


def test_the_link_survives_10000_refused_connects() -> None:
    delays: list[float] = []
    with socket.socket() as bound:  # bound, never listening: every connect is refused, and the port stays ours
        bound.bind(("127.0.0.1", 0))
        settings = LinkSettings(endpoints=[bound.getsockname()], client_id="retry-test")

        async def virtual_sleep(seconds: float) -> Any:
            delays.append(seconds)
            if link.counters.connect_failures >= FAILURES:
                raise _Enough

        link = MqttLink(settings, _Listener(), sleep=virtual_sleep)
        with pytest.raises(_Enough):
            asyncio.run(link.run())

    assert link.counters.connect_failures == FAILURES and link.counters.connects == 0
    assert len(delays) == FAILURES
    assert all(0 <= d <= const.DEFAULT_BACKOFF_CAP_S for d in delays)
    assert max(delays) > const.DEFAULT_BACKOFF_CAP_S / 2, "the delay grows to the cap"
