"""Simulated beacons behind a fake BlueZ: python-dbusmock's ``bluez5`` template on a private system bus.

bleak's real BlueZ backend talks to it exactly as to bluetoothd (hardware note §2). The template's own
``AddDevice`` types ManufacturerData/ServiceData as ``aa{qv}``/``aa{sv}`` and bleak then fires no callback,
so devices are added with ``Mock.AddObject`` + ``InterfacesAdded`` and re-sighted with ``UpdateProperties``
(correct ``a{qv}``/``a{sv}`` dicts).

dbus-python calls block: drive :class:`FakeBlueZ` from a thread or executor while bleak's loop runs. Calls
are serialised by a lock, so several feeder threads may share one instance.

Also here, shared by tests, bench and demo: frame builders (``ibeacon``, ``altbeacon``, ``eddystone_*``)
and scripted movements with seeded log-normal RSSI noise (``walk_by``, ``dwell_at_shelf``,
``associate_badge``).
"""

from __future__ import annotations

import math
import os
import random
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import dbus
import dbusmock
from dbusmock.testcase import BusType, PrivateDBus, SpawnedMock

DEVICE_IFACE = "org.bluez.Device1"
ADAPTER_IFACE = "org.bluez.Adapter1"
BLUEZ_MOCK_IFACE = "org.bluez.Mock"
OBJECT_MANAGER_IFACE = "org.freedesktop.DBus.ObjectManager"
EDDYSTONE_UUID = "0000feaa-0000-1000-8000-00805f9b34fb"
SYSTEM_BUS_ENV = "DBUS_SYSTEM_BUS_ADDRESS"
NAME_RELEASE_WAIT_S = 5.0
"""Bounded wait for the bus to drop a stopped mock's name (milliseconds in practice)."""


# --- private system bus ------------------------------------------------------------------------------------
class PrivateSystemBus:
    """A private ``dbus-daemon --system``-like bus; sets DBUS_SYSTEM_BUS_ADDRESS in this process (bleak and
    dbus-fast read it when they connect) and restores the previous value on :meth:`stop`."""

    def __init__(self) -> None:
        self._bus: PrivateDBus | None = None
        self._previous: str | None = None

    @property
    def address(self) -> str:
        if self._bus is None:
            raise RuntimeError("PrivateSystemBus not started")
        return str(self._bus.address)

    def start(self) -> PrivateSystemBus:
        self._previous = os.environ.get(SYSTEM_BUS_ENV)
        self._bus = PrivateDBus(BusType.SYSTEM)  # FileNotFoundError without dbus-daemon: a failure, not a skip
        self._bus.start()
        return self

    def stop(self) -> None:
        if self._bus is not None:
            self._bus.stop()
            self._bus = None
        if self._previous is None:
            os.environ.pop(SYSTEM_BUS_ENV, None)
        else:
            os.environ[SYSTEM_BUS_ENV] = self._previous

    def __enter__(self) -> PrivateSystemBus:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _bytes_dict(entries: dict[Any, bytes], key_signature: str) -> dbus.Dictionary:
    """``a{qv}`` / ``a{sv}`` of byte arrays -- never the template's ``aa{..}``."""
    return dbus.Dictionary(
        {k: dbus.Array(list(v), signature="y") for k, v in entries.items()}, signature=key_signature + "v"
    )


class FakeBlueZ:
    """The bluez5 mock on the current system bus (start a :class:`PrivateSystemBus` first)."""

    def __init__(self, adapter: str = "hci0", *, monitor_api: bool = True) -> None:
        self.adapter = adapter
        self.monitor_api = monitor_api
        self._mock: SpawnedMock | None = None
        self._bus: Any = None
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self._mock_was_ours = False

    @property
    def adapter_path(self) -> str:
        return f"/org/bluez/{self.adapter}"

    def start(self, *, with_adapter: bool = True) -> FakeBlueZ:
        params = dbus.Dictionary({"enable_monitor_api": self.monitor_api}, signature="sv")
        self._mock = SpawnedMock.spawn_with_template("bluez5", params, BusType.SYSTEM, subprocess.DEVNULL)
        self._bus = BusType.SYSTEM.get_connection()
        if with_adapter:
            self.add_adapter()
        return self

    def attach(self) -> FakeBlueZ:
        """Drive a mock another process started (e.g. a feeder process in the bench); spawns nothing."""
        self._bus = BusType.SYSTEM.get_connection()
        return self

    def stop(self) -> None:
        self._mock_was_ours = self._mock is not None
        if self._mock is not None:
            self._mock.terminate()
            self._mock = None
        if self._bus is not None:
            # The bus releases org.bluez a moment after the mock exits; the next mock must find it free.
            deadline = time.monotonic() + NAME_RELEASE_WAIT_S
            while self._mock_was_ours and self._bus.name_has_owner("org.bluez") and time.monotonic() < deadline:
                time.sleep(0.01)
            self._bus.close()
            self._bus = None

    def __enter__(self) -> FakeBlueZ:
        return self if self._mock is not None else self.start()

    def __exit__(self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None) -> None:
        self.stop()

    # --- adapter ---------------------------------------------------------------------------------------------
    def add_adapter(self) -> None:
        """A powered adapter with the central and peripheral roles (the template's defaults)."""
        with self._lock:
            self._known.clear()
            self._iface("/org/bluez", BLUEZ_MOCK_IFACE).AddAdapter(self.adapter, "edge-agent-test")

    def remove_adapter(self) -> None:
        """The adapter disappears (USB dongle unplugged, controller crashed), with its devices."""
        with self._lock:
            self._iface("/org/bluez", BLUEZ_MOCK_IFACE).RemoveAdapterWithDevices(self.adapter)
            self._known.clear()

    def set_powered(self, powered: bool) -> None:
        with self._lock:
            self._iface(self.adapter_path, dbusmock.MOCK_IFACE).UpdateProperties(
                ADAPTER_IFACE, {"Powered": dbus.Boolean(powered)}
            )

    def start_discovery_calls(self) -> int:
        """How often a client called StartDiscovery on the adapter (the watchdog's restarts show here)."""
        with self._lock:
            calls = self._iface(self.adapter_path, dbusmock.MOCK_IFACE).GetMethodCalls("StartDiscovery")
            return len(calls)

    # --- devices ---------------------------------------------------------------------------------------------
    def advertise(
        self,
        address: str,
        rssi: int,
        mfr: dict[int, bytes] | None = None,
        svc: dict[str, bytes] | None = None,
        name: str | None = None,
    ) -> None:
        """One advertisement: a new device appears (InterfacesAdded), a known one changes (PropertiesChanged)."""
        path = f"{self.adapter_path}/dev_{address.upper().replace(':', '_')}"
        changed: dict[str, Any] = {"RSSI": dbus.Int16(max(-127, min(20, rssi)))}
        if mfr:
            changed["ManufacturerData"] = _bytes_dict({dbus.UInt16(k): v for k, v in mfr.items()}, "q")
        if svc:
            changed["ServiceData"] = _bytes_dict(svc, "s")
            changed["UUIDs"] = dbus.Array(list(svc), signature="s")
        with self._lock:
            if path in self._known:
                self._iface(path, dbusmock.MOCK_IFACE).UpdateProperties(DEVICE_IFACE, changed)
                return
            props = {
                "Address": dbus.String(address.upper()),
                "AddressType": dbus.String("random"),
                "Alias": dbus.String(name or address.upper().replace(":", "-")),
                "Adapter": dbus.ObjectPath(self.adapter_path),
                "Connected": dbus.Boolean(False),
                "Paired": dbus.Boolean(False),
                "UUIDs": dbus.Array([], signature="s"),
                "ManufacturerData": _bytes_dict({}, "q"),
                "ServiceData": _bytes_dict({}, "s"),
                **({"Name": dbus.String(name)} if name else {}),
                **changed,
            }
            root = self._iface("/", dbusmock.MOCK_IFACE)
            root.AddObject(path, DEVICE_IFACE, props, dbus.Array([], signature="(ssss)"))
            root.EmitSignal(
                OBJECT_MANAGER_IFACE,
                "InterfacesAdded",
                "oa{sa{sv}}",
                [dbus.ObjectPath(path), {DEVICE_IFACE: dbus.Dictionary(props, signature="sv")}],
            )
            self._known.add(path)

    def remove_device(self, address: str) -> None:
        path = f"{self.adapter_path}/dev_{address.upper().replace(':', '_')}"
        with self._lock:
            if path in self._known:
                self._iface(self.adapter_path, ADAPTER_IFACE).RemoveDevice(dbus.ObjectPath(path))
                self._known.discard(path)

    def play(self, address: str, movement: Movement, speed: float = 1.0, stop: threading.Event | None = None) -> int:
        """Advertise ``movement``'s samples at their (scaled) times; returns how many were sent."""
        start = time.monotonic()
        sent = 0
        for sample in movement.samples:
            if stop is not None and stop.is_set():
                break
            delay = start + sample.t / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.advertise(address, round(sample.rssi), mfr=sample.mfr or movement.mfr, svc=sample.svc or movement.svc)
            sent += 1
        return sent

    def _iface(self, path: str, interface: str) -> Any:
        if self._bus is None:
            raise RuntimeError("FakeBlueZ not started")
        return dbus.Interface(self._bus.get_object("org.bluez", path), interface)


# --- frame builders (hardware note §3 layouts) -----------------------------------------------------------------
def ibeacon(beacon_uuid: str | uuid.UUID, major: int, minor: int, power: int = -59) -> dict[int, bytes]:
    u = beacon_uuid if isinstance(beacon_uuid, uuid.UUID) else uuid.UUID(beacon_uuid)
    return {0x004C: b"\x02\x15" + u.bytes + struct.pack(">HHb", major, minor, power)}


def app_token(app_uuid: str | uuid.UUID, token: int, power: int = -59) -> dict[int, bytes]:
    """The shopper app's advert: iBeacon with the app UUID, major<<16|minor = rotating 32-bit token."""
    return ibeacon(app_uuid, token >> 16, token & 0xFFFF, power)


def altbeacon(
    beacon_uuid: str | uuid.UUID, id2: int, id3: int, ref_rssi: int = -59, company: int = 0x0118, reserved: int = 0
) -> dict[int, bytes]:
    u = beacon_uuid if isinstance(beacon_uuid, uuid.UUID) else uuid.UUID(beacon_uuid)
    return {company: b"\xbe\xac" + u.bytes + struct.pack(">HHbB", id2, id3, ref_rssi, reserved)}


def eddystone_uid(namespace: str, instance: str, tx_0m: int = -18) -> dict[str, bytes]:
    """``namespace``: 20 hex digits, ``instance``: 12 hex digits."""
    return {EDDYSTONE_UUID: bytes([0x00, tx_0m & 0xFF]) + bytes.fromhex(namespace) + bytes.fromhex(instance) + b"\0\0"}


_SCHEMES = ("http://www.", "https://www.", "http://", "https://")
_EXPANSIONS = (".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/",
               ".com", ".org", ".edu", ".net", ".info", ".biz", ".gov")  # fmt: skip


def eddystone_url(url: str, tx_0m: int = -18) -> dict[str, bytes]:
    scheme = next(i for i, s in enumerate(_SCHEMES) if url.startswith(s))
    rest, body = url[len(_SCHEMES[scheme]) :], bytearray()
    while rest:
        code = next((i for i, e in enumerate(_EXPANSIONS) if rest.startswith(e)), None)
        if code is not None:
            body.append(code)
            rest = rest[len(_EXPANSIONS[code]) :]
        else:
            body += rest[0].encode()
            rest = rest[1:]
    if len(body) > 17:
        raise ValueError(f"{url!r} encodes to {len(body)} bytes; Eddystone-URL allows 17")
    return {EDDYSTONE_UUID: bytes([0x10, tx_0m & 0xFF, scheme]) + bytes(body)}


def eddystone_tlm(
    battery_mv: int = 3000, temperature_c: float | None = 21.5, adv_count: int = 0, uptime_s: float = 0.0
) -> dict[str, bytes]:
    temp = 0x8000 if temperature_c is None else round(temperature_c * 256) & 0xFFFF
    return {EDDYSTONE_UUID: struct.pack(">BBHHII", 0x20, 0x00, battery_mv, temp, adv_count, round(uptime_s * 10))}


# --- scripted movements -----------------------------------------------------------------------------------------
NOISE_SIGMA_DB = 5.0
"""Log-normal shadowing of indoor RSSI (hardware note §3 simulation)."""
PATH_LOSS_N = 2.2
"""True path-loss exponent of the simulated store (the tracker's thresholds assume ~2)."""


def rssi_at(distance_m: float, power_1m: float = -59.0, n: float = PATH_LOSS_N) -> float:
    return power_1m - 10 * n * math.log10(max(distance_m, 0.1))


@dataclass(frozen=True)
class Sample:
    t: float
    rssi: float
    mfr: dict[int, bytes] | None = None
    svc: dict[str, bytes] | None = None


@dataclass(frozen=True)
class Movement:
    """RSSI samples over time (seconds from 0) of one beacon, plus the frames it advertises."""

    samples: Sequence[Sample]
    mfr: dict[int, bytes] | None = None
    svc: dict[str, bytes] | None = None
    distances: Sequence[float] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.samples[-1].t if self.samples else 0.0


def _path(
    legs: Iterable[tuple[float, float, float]], rate_hz: float, seed: int, sigma_db: float, power_1m: float
) -> tuple[list[Sample], list[float]]:
    """Legs of (from m, to m, seconds), linear in distance; one noisy sample per 1/rate_hz."""
    rng = random.Random(seed)
    samples: list[Sample] = []
    distances: list[float] = []
    t = 0.0
    for start, end, seconds in legs:
        steps = max(1, round(seconds * rate_hz))
        for i in range(steps):
            d = start + (end - start) * i / steps
            samples.append(Sample(t, rssi_at(d, power_1m) + rng.gauss(0, sigma_db)))
            distances.append(d)
            t += 1 / rate_hz
    return samples, distances


def walk_by(
    *, seed: int, rate_hz: float = 10.0, sigma_db: float = NOISE_SIGMA_DB, power_1m: float = -59.0,
    far_m: float = 12.0, closest_m: float = 0.3, walk_s: float = 12.0, pause_s: float = 10.0,
    mfr: dict[int, bytes] | None = None, svc: dict[str, bytes] | None = None,
) -> Movement:  # fmt: skip
    """Walk up from ``far_m`` to ``closest_m``, pause (looking at the kiosk), walk away again."""
    samples, distances = _path(
        [(far_m, closest_m, walk_s), (closest_m, closest_m, pause_s), (closest_m, far_m, walk_s)],
        rate_hz, seed, sigma_db, power_1m,
    )  # fmt: skip
    return Movement(samples, mfr, svc, distances)


def dwell_at_shelf(
    *, seed: int, dwell_s: float = 20.0, shelf_m: float = 1.0, rate_hz: float = 10.0, sigma_db: float = NOISE_SIGMA_DB,
    power_1m: float = -59.0, mfr: dict[int, bytes] | None = None, svc: dict[str, bytes] | None = None,
) -> Movement:  # fmt: skip
    """Approach a shelf from 10 m, stay ``dwell_s`` at ``shelf_m``, leave, browse on 10 m away for 6 s."""
    samples, distances = _path(
        [(10.0, shelf_m, 6.0), (shelf_m, shelf_m, dwell_s), (shelf_m, 10.0, 6.0), (10.0, 10.0, 6.0)],
        rate_hz,
        seed,
        sigma_db,
        power_1m,
    )
    return Movement(samples, mfr, svc, distances)


def associate_badge(
    *, seed: int, stay_s: float = 15.0, rate_hz: float = 2.0, sigma_db: float = NOISE_SIGMA_DB, power_1m: float = -59.0,
    mfr: dict[int, bytes] | None = None, svc: dict[str, bytes] | None = None,
) -> Movement:  # fmt: skip
    """An associate walks up to the device, works at it (~0.3 m) for ``stay_s``, walks off; badges beacon slowly."""
    samples, distances = _path(
        [(8.0, 0.3, 4.0), (0.3, 0.3, stay_s), (0.3, 8.0, 4.0)], rate_hz, seed, sigma_db, power_1m
    )
    return Movement(samples, mfr, svc, distances)


def random_address(rng: random.Random) -> str:
    """A random static address (top two bits set), as beacons and phones use."""
    first = rng.randrange(256) | 0xC0
    return ":".join(f"{b:02X}" for b in [first, *(rng.randrange(256) for _ in range(5))])


def interleave(*streams: Sequence[tuple[float, Any]]) -> Iterator[tuple[float, Any]]:
    """Merge time-ordered (t, item) streams into one time-ordered stream."""
    return iter(sorted((item for stream in streams for item in stream), key=lambda p: p[0]))
