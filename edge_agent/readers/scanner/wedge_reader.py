"""Keyboard-wedge scanners through python-evdev: the port the reader loop reads.

evdev is imported here, and this module only when ``readers.scanner.kind = "wedge"``. The input device is
grabbed (EVIOCGRAB) as it opens: while the agent holds it, the scanner's keystrokes reach no one else -- not
the console, not the kiosk's browser, where they would type into the screen's page. Its key events become text
through keymap.py; an unplugged scanner surfaces as OSError (ENODEV) on read.
"""

from __future__ import annotations

import contextlib
import select
from dataclasses import dataclass

import evdev

from edge_agent.readers.scanner.config import KeymapName
from edge_agent.readers.scanner.const import WEDGE_POLL_S
from edge_agent.readers.scanner.keymap import KeyDecoder


@dataclass
class WedgePort:
    device: evdev.InputDevice[str]
    keys: KeyDecoder

    def read_text(self) -> str:
        ready, _, _ = select.select([self.device.fd], [], [], WEDGE_POLL_S)
        if not ready:
            return ""
        try:
            events = list(self.device.read())
        except BlockingIOError:
            return ""
        return "".join(self.keys.feed(ev.type, ev.code, ev.value) for ev in events)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the device is gone: so is its grab
            self.device.ungrab()
        self.device.close()


def open_wedge(device: str, keymap: KeymapName) -> WedgePort:
    """Opens and grabs the device; OSError when it is missing, not an input device, or grabbed by another."""
    dev = evdev.InputDevice(device, readonly=True)  # the unit allows char-input r; EVIOCGRAB needs no write
    try:
        dev.grab()
    except OSError:
        dev.close()
        raise
    return WedgePort(dev, KeyDecoder.for_keymap(keymap))
