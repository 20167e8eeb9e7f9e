"""The doctor's reader checks: the camera gives a frame, the NFC frontend opens, the BLE adapter can scan, the
handheld scanner's port opens.

Each opens the device through the reader's own adapter (VideoCaptureSource, open_frontend, adapter_problem,
open_serial/open_wedge), so the doctor fails exactly where the reader would. A running agent holds its camera,
NFC reader and scanner: these checks then fail with "busy" or "cannot open", and the fix says to stop it first.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge_agent.fleet import doctor_const as const
from edge_agent.fleet.doctor import Finding, fail, ok

_HELD = "if the agent is running it holds the device: stop it first (systemctl stop edge-agent)"


@dataclass(frozen=True)
class CameraCheck:
    source: int | str
    name: str = "camera"
    timeout_s: float = const.CAMERA_TIMEOUT_S

    @property
    def target(self) -> str:
        return str(self.source)

    def run(self) -> Finding:
        from edge_agent.readers.barcode.frames import FrameSourceError, VideoCaptureSource

        try:
            source = VideoCaptureSource(self.source)
        except FrameSourceError as exc:
            return fail(f"{exc}{self._why()}", self._fix())
        with source:
            frame = source.read()
        if frame is None:
            return fail("opened, but gave no frame", f"{self._fix()}; a file may be empty or not a video")
        height, width = frame.shape[:2]
        return ok(f"a {width}x{height} frame", width=width, height=height)

    def _why(self) -> str:
        if isinstance(self.source, str) and not os.path.exists(self.source):
            return " (no such file or device)"
        return ""

    def _fix(self) -> str:
        if isinstance(self.source, int) or self.source.startswith("/dev/"):
            return (
                "check the USB cable and `v4l2-ctl --list-devices`, that readers.barcode.source names the camera "
                f"(/dev/v4l/by-id/... survives replugging), and that the service user is in the video group; {_HELD}"
            )
        return "readers.barcode.source names a video file: check the path and that it plays (`ffprobe FILE`)"


@dataclass(frozen=True)
class NfcCheck:
    path: str
    name: str = "nfc"
    timeout_s: float = const.CHECK_TIMEOUT_S

    @property
    def target(self) -> str:
        return self.path

    def run(self) -> Finding:
        from edge_agent.readers.nfc.reader import open_frontend

        try:
            frontend = open_frontend(self.path)
        except OSError as exc:
            return fail(f"nfcpy cannot open {self.path}: {exc.strerror or exc}", self._fix())
        try:
            device = str(getattr(frontend, "device", "") or "a reader")
        finally:
            frontend.close()
        return ok(f"opened {device}")

    def _fix(self) -> str:
        if self.path.startswith("tty"):
            return (
                f"check the serial device of {self.path} exists (`ls /dev/ttyUSB* /dev/ttyAMA*`) and that the "
                f"service user may open it (dialout); `python -m nfc` diagnoses; {_HELD}"
            )
        return (
            "plug the reader in (`lsusb`); the kernel's pn533/port100 drivers must not claim it "
            "(install systemd/edge-agent-nfc-blacklist.conf and replug); the service user needs plugdev; "
            f"`python -m nfc` diagnoses; {_HELD}"
        )


_BLE_FIXES = {
    "bluez_unreachable": "start bluetoothd (`systemctl start bluetooth`); the service user must be in the "
    "bluetooth group",
    "no_bluetooth": "no such adapter (`bluetoothctl list`): plug the dongle in, enable Bluetooth on the Pi "
    "(no dtoverlay=disable-bt in config.txt), or set readers.ble.adapter",
    "no_ble_central_role": "this adapter cannot scan for BLE: use another one (readers.ble.adapter)",
    "powered_off": "`rfkill unblock bluetooth` (see `rfkill list`) and `bluetoothctl power on`; AutoEnable=true "
    "in /etc/bluetooth/main.conf powers it at boot",
}


@dataclass(frozen=True)
class BleCheck:
    adapter: str
    name: str = "ble"
    timeout_s: float = const.CHECK_TIMEOUT_S

    @property
    def target(self) -> str:
        return self.adapter

    def run(self) -> Finding:
        problem = asyncio.run(self._problem())
        if problem is None:
            return ok("present, powered, can scan (central role)")
        reason = problem.split(":", 1)[0]
        return fail(problem, _BLE_FIXES.get(reason, _BLE_FIXES["bluez_unreachable"]))

    async def _problem(self) -> str | None:
        from dbus_fast import BusType
        from dbus_fast.aio import MessageBus

        from edge_agent.readers.ble.reader import adapter_problem

        bus = MessageBus(bus_type=BusType.SYSTEM)
        try:
            async with asyncio.timeout(const.DBUS_TIMEOUT_S):
                await bus.connect()
            return await adapter_problem(bus, self.adapter, const.DBUS_TIMEOUT_S)
        except Exception as exc:  # no system bus socket, or a wedged bus: the reader says the same
            return f"bluez_unreachable: system bus: {type(exc).__name__}: {exc}"
        finally:
            bus.disconnect()


INPUT_BY_ID = Path("/dev/input/by-id")
"""Where udev names input devices after their USB vendor, model and serial (a replug keeps the name)."""
KEYBOARD_SUFFIX = "-event-kbd"
"""udev's name for a device's keyboard event node: a wedge scanner is a keyboard among the others."""


def keyboards_by_id(by_id: Path = INPUT_BY_ID) -> list[str]:
    """The keyboards udev names by id: the wedge scanner's is the one with its vendor and model in the name."""
    try:
        return sorted(str(p) for p in by_id.glob(f"*{KEYBOARD_SUFFIX}"))
    except OSError:
        return []


@dataclass(frozen=True)
class ScannerCheck:
    kind: Literal["serial", "wedge"]
    device: str
    baud: int
    name: str = "scanner"
    timeout_s: float = const.CHECK_TIMEOUT_S
    by_id: Path = INPUT_BY_ID

    @property
    def target(self) -> str:
        return self.device

    def run(self) -> Finding:
        return self._serial() if self.kind == "serial" else self._wedge()

    def _serial(self) -> Finding:
        from edge_agent.readers.scanner.serial_reader import open_serial

        try:
            port = open_serial(self.device, self.baud)
        except OSError as exc:
            return fail(
                f"pyserial cannot open {self.device}: {exc}",
                "plug the scanner in and check its name (`ls -l /dev/serial/by-id/`; it must be in USB CDC or "
                "RS-232 mode, not keyboard mode), that readers.scanner.device names it, and that the service user "
                f"is in the dialout group; {_HELD}",
            )
        port.close()
        return ok(f"opened at {self.baud} baud")

    def _wedge(self) -> Finding:
        from evdev import ecodes

        from edge_agent.readers.scanner.wedge_reader import open_wedge

        candidates = keyboards_by_id(self.by_id)
        listed = ", ".join(candidates) or f"none in {self.by_id}"
        try:
            port = open_wedge(self.device, "us")
        except OSError as exc:
            return fail(
                f"cannot open and grab {self.device}: {exc.strerror or exc}; keyboards by id: {listed}",
                "set readers.scanner.device to the scanner's /dev/input/by-id/...-event-kbd (listed here; "
                f"`evtest` shows which one types when it scans); the service user needs the input group; {_HELD}",
                keyboards=len(candidates),
            )
        try:
            keys = port.device.capabilities().get(ecodes.EV_KEY, [])
        finally:
            port.close()
        if ecodes.KEY_ENTER not in keys:
            return fail(
                f"{self.device} has no Enter key: not a keyboard; keyboards by id: {listed}",
                "a wedge scanner is a keyboard: point readers.scanner.device at its ...-event-kbd node",
                keyboards=len(candidates),
            )
        return ok(f"opened and grabbed a keyboard; keyboards by id: {listed}", keyboards=len(candidates))
