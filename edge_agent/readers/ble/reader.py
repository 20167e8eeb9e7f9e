"""BLE beacon reader: bleak's BlueZ scanner on the agent's asyncio loop, registered beacons in, typed events out.

Recovery is written as explicit steps: check the adapter (present, central role, powered), start discovery
(with a timeout; passive falls back to active where BlueZ cannot), report ``ok``, handle advertisement
callbacks until stopped, until the adapter disappears or powers off, or until the watchdog sees no advert
for ``watchdog_s``; stop discovery (with a timeout), and either restart at once (watchdog) or report
``degraded`` and retry with full-jitter backoff. Nothing BLE-related ever raises out of :meth:`BleReader.run`.

Privacy: the callback sees a Bluetooth address; it is used only for the in-memory, keyed-hash TLM link
(:class:`~edge_agent.readers.ble.registry.AdvertFilter`) and is never stored, logged or emitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, Literal

from bleak import BleakScanner
from bleak.args.bluez import BlueZScannerArgs, OrPattern
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError, BleakError
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from edge_agent.backoff import FullJitterBackoff
from edge_agent.readers.ble import const
from edge_agent.readers.ble.config import BleConfig
from edge_agent.readers.ble.events import BeaconTelemetry, BleEvent
from edge_agent.readers.ble.registry import AdvertFilter, Registry, Sighting
from edge_agent.readers.ble.zones import BeaconTracker
from edge_agent.readers.events import InputRejected, ReaderEvent, ReaderHealth

log = logging.getLogger(__name__)

READER_NAME: Final = const.READER_NAME
BLUEZ: Final = "org.bluez"
ADAPTER_IFACE: Final = "org.bluez.Adapter1"
BUS_GONE_ERRORS: Final = frozenset(
    {"org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner"}
)
PASSIVE_PATTERNS: Final = [
    OrPattern(0, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, b"\x4c\x00" + const.IBEACON_PREFIX),
    OrPattern(2, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, const.ALTBEACON_CODE),
    OrPattern(0, AdvertisementDataType.SERVICE_DATA_UUID16, b"\xaa\xfe"),
]
"""Passive scanning needs BlueZ advertisement-monitor or-patterns: iBeacon (Apple id, 02 15), AltBeacon (BE AC
after any company id) and Eddystone (service data 0xFEAA, little-endian). BlueZ merges every client's
patterns, so the filter still runs in-app (hardware note §2)."""

SILENT: Final = "silent"
Emit = Callable[[ReaderEvent | BleEvent], None]
Wait = Callable[[asyncio.Event, float], Awaitable[object]]


async def wait_or_stop(stop: asyncio.Event, timeout_s: float) -> None:
    """Sleep ``timeout_s``, or less once ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await stop.wait()


async def adapter_problem(bus: MessageBus, adapter: str, timeout_s: float) -> str | None:
    """Read the adapter's properties (the checks bleak applies to its default adapter, applied to ``adapter``).

    Returns a reason, named like BleakBluetoothNotAvailableReason, or None when it can scan. Shared with
    ``edge-agent doctor``, so the doctor and the reader never disagree about an adapter. Raises what the bus
    raises (TimeoutError after ``timeout_s``)."""
    get_all = Message(
        destination=BLUEZ,
        path=f"/org/bluez/{adapter}",
        interface="org.freedesktop.DBus.Properties",
        member="GetAll",
        signature="s",
        body=[ADAPTER_IFACE],
    )
    async with asyncio.timeout(timeout_s):
        reply = await bus.call(get_all)
    if reply is None or reply.message_type == MessageType.ERROR:
        error = reply.error_name if reply is not None else "no reply"
        if error in BUS_GONE_ERRORS:
            return "bluez_unreachable: org.bluez is not on the system bus (bluetoothd not running)"
        return f"no_bluetooth: adapter {adapter} not found"
    props = reply.body[0]
    roles = props.get("Roles")
    if roles is not None and "central" not in roles.value:
        return f"no_ble_central_role: adapter {adapter} cannot scan"
    powered = props.get("Powered")
    if powered is not None and not powered.value:
        return f"powered_off: adapter {adapter} is powered off"
    return None


class BleReader:
    """Construct cheaply (no I/O), then ``await reader.run(stop)`` on the agent's loop.

    ``counts`` holds every outcome (adverts, registered, unchanged, not_registered, rejected:<reason>,
    watchdog_restarts, backoff_retries, ...); ``state`` is the last health reported; ``last_advert_at``
    (``clock`` time) is the heartbeat for the systemd watchdog. Every pause (housekeeping ticks, backoff) is
    ``wait(stop, seconds)``; a test passes its own, with a matching ``clock``, to run time virtually."""

    def __init__(
        self,
        config: BleConfig,
        emit: Emit,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        wait: Wait = wait_or_stop,
    ) -> None:
        self.config = config
        self.emit = emit
        self.clock = clock
        self.wall = wall
        self.wait = wait
        self.backoff = FullJitterBackoff(config.backoff_base_s, config.backoff_cap_s)
        self.filter = AdvertFilter(Registry.from_config(config.registry))
        self.counts = self.filter.counts
        self.tracker = BeaconTracker(config.zones, READER_NAME)
        self.mode: Literal["active", "passive"] = config.scanning_mode
        self.state: Literal["starting", "ok", "degraded", "stopped"] = "starting"
        self.last_advert_at = -float("inf")
        self._scanner: BleakScanner | None = None
        self._bus: MessageBus | None = None
        self._health_detail = ""
        self._reject_at: dict[str, float] = {}

    # --- hot path (pure, synchronous) ----------------------------------------------------------------------
    def process_advert(self, mfr: Mapping[int, bytes], svc: Mapping[str, bytes], rssi: float, address: str) -> None:
        """One advertisement: filter, track, emit. Public so the bench drives exactly this path."""
        now = self.clock()
        self.last_advert_at = now
        found, rejected = self.filter.feed(mfr, svc, rssi, address, now)
        if found:
            wall = self.wall()
            for item in found:
                if isinstance(item, Sighting):
                    for event in self.tracker.sighting(item.entry, item.rssi, now, wall):
                        self.emit(event)
                else:
                    tlm = item.tlm
                    self.emit(BeaconTelemetry(item.entry.beacon, tlm.battery_mv, tlm.temperature_c,
                                              tlm.adv_count, tlm.uptime_s, READER_NAME, wall))  # fmt: skip
        for frame in rejected:
            last = self._reject_at.get(frame.reason)
            if last is None or now - last >= const.REJECT_EVENT_INTERVAL_S:
                self._reject_at[frame.reason] = now
                total = self.counts[f"rejected:{frame.reason}"]
                self.emit(InputRejected(READER_NAME, frame.reason, f"{frame.detail} ({total} so far)"))

    def tick(self) -> None:
        """Housekeeping: absence timeouts (-> gone) and dwell events."""
        for event in self.tracker.tick(self.clock(), self.wall()):
            self.emit(event)

    def _on_advert(self, device: BLEDevice, adv: AdvertisementData) -> None:
        try:
            self.process_advert(adv.manufacturer_data, adv.service_data, adv.rssi, device.address)
        except Exception as exc:  # a bug here must not kill bleak's dispatch; the advert is not logged
            self.counts["callback_errors"] += 1
            log.error("BLE advert handling failed: %s", type(exc).__name__)

    # --- recovery loop ---------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                # Step 1: the adapter must exist, have the central role and be powered.
                problem = await self._adapter_problem()
                # Step 2: start discovery (passive falls back to active once, without a pause).
                if problem is None:
                    problem = await self._start()
                if problem is not None:
                    self._health("degraded", problem)
                    await self._pause(stop, self._backoff())
                    continue
                self.backoff.reset()
                self._health("ok", f"scanning on {self.config.adapter} ({self.mode})")
                # Step 3: adverts arrive by callback; watch for silence and for the adapter going away.
                problem = await self._watch(stop)
                # Step 4: stop discovery, then restart at once (watchdog) or report and back off.
                await self._stop_scanner()
                if problem == SILENT:
                    self.counts["watchdog_restarts"] += 1
                    log.warning("no BLE advert for %.0f s: restarting discovery", self.config.watchdog_s)
                elif problem is not None:
                    self._health("degraded", problem)
                    await self._pause(stop, self._backoff())
        finally:
            await self._stop_scanner()
            await self._close_bus()
            self._health("stopped", "stopped")

    async def _start(self) -> str | None:
        bluez: BlueZScannerArgs = {"adapter": self.config.adapter}
        if self.mode == "passive":
            bluez["or_patterns"] = list(PASSIVE_PATTERNS)
        try:
            scanner = BleakScanner(self._on_advert, None, self.mode, bluez=bluez)
            async with asyncio.timeout(self.config.start_timeout_s):
                await scanner.start()
        except TimeoutError:
            return f"start_timeout: discovery did not start within {self.config.start_timeout_s:g} s"
        except Exception as exc:
            if self.mode == "passive" and _passive_unsupported(exc):
                log.warning("passive scanning unsupported by this BlueZ (%s): falling back to active", exc)
                self.counts["passive_fallbacks"] += 1
                self.mode = "active"
                return await self._start()
            return unavailable_reason(exc)
        self._scanner = scanner
        self.counts["scanner_starts"] += 1
        self.last_advert_at = self.clock()  # the watchdog counts silence from the start
        return None

    async def _watch(self, stop: asyncio.Event) -> str | None:
        checked = self.clock()
        while not stop.is_set():
            await self.wait(stop, const.HOUSEKEEPING_TICK_S)
            self.tick()
            now = self.clock()
            if now - self.last_advert_at > self.config.watchdog_s:
                return SILENT
            if now - checked >= const.ADAPTER_CHECK_S:
                checked = now
                problem = await self._adapter_problem()
                if problem is not None:
                    return problem
        return None

    async def _stop_scanner(self) -> None:
        scanner, self._scanner = self._scanner, None
        if scanner is None:
            return
        try:
            async with asyncio.timeout(self.config.stop_timeout_s):
                await scanner.stop()
        except Exception as exc:  # adapter already gone, or bluetoothd wedged: nothing left to stop
            log.info("stopping BLE discovery failed (%s); continuing", type(exc).__name__)

    async def _adapter_problem(self) -> str | None:
        """The adapter's state over the system bus, on a connection kept between checks."""
        try:
            if self._bus is None or not self._bus.connected:
                self._bus = None
                bus = MessageBus(bus_type=BusType.SYSTEM)
                async with asyncio.timeout(self.config.start_timeout_s):
                    self._bus = await bus.connect()
            return await adapter_problem(self._bus, self.config.adapter, self.config.start_timeout_s)
        except Exception as exc:  # no system bus socket, bus died, or the call hung
            await self._close_bus()
            return f"bluez_unreachable: system bus: {type(exc).__name__}"

    async def _close_bus(self) -> None:
        bus, self._bus = self._bus, None
        if bus is not None:
            with contextlib.suppress(Exception):
                bus.disconnect()

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        """Wait out a backoff while still ticking, so beacons time out to ``gone`` while degraded."""
        deadline = self.clock() + seconds
        while not stop.is_set() and (left := deadline - self.clock()) > 0:
            await self.wait(stop, min(left, const.HOUSEKEEPING_TICK_S))
            self.tick()

    def _backoff(self) -> float:
        """The next full-jitter delay (edge_agent/backoff.py), at least one tick; counted."""
        self.counts["backoff_retries"] += 1
        return max(const.HOUSEKEEPING_TICK_S, self.backoff.next_delay())

    def _health(self, state: Literal["ok", "degraded", "stopped"], detail: str) -> None:
        """Report a state change (or a changed reason); a retry that fails the same way stays quiet."""
        if state == self.state and detail == self._health_detail:
            return
        self.state, self._health_detail = state, detail
        if state == "degraded":
            log.warning("BLE reader degraded: %s", detail)
        self.emit(ReaderHealth(READER_NAME, state, detail))


def unavailable_reason(exc: BaseException) -> str:
    """A scanner start failure as a stable reason prefix plus text (never raises, never contains an address)."""
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return f"{exc.reason.name.lower()}: {exc.args[0] if exc.args else exc}"
    if isinstance(exc, BleakDBusError):
        if exc.dbus_error == "org.bluez.Error.NotReady":
            return "powered_off: adapter not ready"
        if exc.dbus_error in BUS_GONE_ERRORS:
            return "bluez_unreachable: org.bluez is not on the system bus"
        return f"bluez_error: {exc.dbus_error}"
    if isinstance(exc, BleakError) and "not found" in str(exc):
        return f"no_bluetooth: {exc}"
    if isinstance(exc, OSError | EOFError):
        return f"bluez_unreachable: system bus: {type(exc).__name__}"
    return f"scanner_error: {type(exc).__name__}"


def _passive_unsupported(exc: BaseException) -> bool:
    if isinstance(exc, BleakDBusError):
        return exc.dbus_error.endswith((".UnknownMethod", ".UnknownInterface", ".NotSupported"))
    return isinstance(exc, BleakError) and "passive scanning" in str(exc)
