"""The handheld scanner reader: a port's characters -> lines -> the camera's events, in its own thread.

One loop for both kinds; only the port differs (serial_reader.py: pyserial; wedge_reader.py: evdev + keymap).
Recovery is written as explicit steps, like the NFC reader's: open the port (degraded while it cannot be
opened, retried with the agent's one backoff), report ``ok``, read lines until the device goes away, reject the
half line it left, report ``degraded``, back off, reopen. A USB scanner replugged comes back under the same
/dev/serial/by-id or /dev/input/by-id name, so configuring that name is what makes a replug transparent.

Each line is a deliberate trigger pull: there is no vote or debounce as for the camera; scanning the same item
twice is two of it, as at a till.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from edge_agent.backoff import FullJitterBackoff
from edge_agent.readers.events import InputRejected, ReaderEvent, ReaderHealth
from edge_agent.readers.scanner.aim import LineDecoder
from edge_agent.readers.scanner.const import READER_NAME, REOPEN_BASE_S, REOPEN_CAP_S
from edge_agent.readers.scanner.lines import SUFFIXES, LineFramer, Rejection

if TYPE_CHECKING:
    from edge_agent.readers.scanner.config import ScannerConfig

log = logging.getLogger(__name__)


class TextPort(Protocol):
    """An open scanner: ``read_text`` waits at most a poll interval and returns what was typed or sent ("" for
    nothing); it raises OSError once the device is gone."""

    def read_text(self) -> str: ...

    def close(self) -> None: ...


@dataclass
class ScannerReader:
    device: str
    open_port: Callable[[], TextPort]
    new_framer: Callable[[], LineFramer]
    decoder: LineDecoder
    emit: Callable[[ReaderEvent], None]
    backoff_base_s: float = REOPEN_BASE_S
    backoff_cap_s: float = REOPEN_CAP_S
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    lines: int = 0

    def run(self, stop: threading.Event) -> None:
        """Blocking loop for a thread: open, read, and on failure report degraded and reopen with backoff."""
        backoff = FullJitterBackoff(self.backoff_base_s, self.backoff_cap_s)
        while not stop.is_set():
            # Step 1: open the port; a missing or busy scanner is degraded, not fatal.
            try:
                port = self.open_port()
            except (OSError, ValueError) as exc:  # pyserial's SerialException is an OSError
                self.emit(ReaderHealth(READER_NAME, "degraded", f"cannot open {self.device}: {exc}"))
                stop.wait(backoff.next_delay())
                continue
            backoff.reset()
            self.emit(ReaderHealth(READER_NAME, "ok", f"scanner open on {self.device}"))
            # Step 2: read lines until stopped or the device goes away; a half line it left is rejected.
            framer = self.new_framer()
            try:
                gone = self._read_until_gone(port, framer, stop)
            finally:
                port.close()
                self._hand_on(framer.close())
            # Step 3: a vanished scanner is reported and reopened after a pause.
            if gone and not stop.is_set():
                self.emit(ReaderHealth(READER_NAME, "degraded", f"scanner on {self.device} went away"))
                stop.wait(backoff.next_delay())
        self.emit(ReaderHealth(READER_NAME, "stopped", "stopped"))

    def _read_until_gone(self, port: TextPort, framer: LineFramer, stop: threading.Event) -> bool:
        while not stop.is_set():
            try:
                text = port.read_text()
            except OSError as exc:
                log.info("scanner on %s: %s", self.device, exc)
                return True
            self._hand_on(framer.feed(text, self.clock()))
        return False

    def _hand_on(self, items: list[str | Rejection]) -> None:
        for item in items:
            if isinstance(item, Rejection):
                self.emit(InputRejected(READER_NAME, item.reason, item.detail))
            else:
                self.lines += 1
                self.emit(self.decoder.event(item, self.wall()))


def scanner_reader(
    config: ScannerConfig, emit: Callable[[ReaderEvent], None], rcn_region: str | None = None
) -> ScannerReader:
    """The configured scanner; pyserial or evdev is imported here, only on a device that has one."""
    decoder = LineDecoder(config.aim_prefix, config.gs_substitute, rcn_region)
    if config.kind == "serial":
        from edge_agent.readers.scanner.serial_reader import open_serial

        def open_port() -> TextPort:
            return open_serial(config.device, config.serial_baud)

        suffix = SUFFIXES[config.serial_suffix]
    else:
        from edge_agent.readers.scanner.keymap import ENTER
        from edge_agent.readers.scanner.wedge_reader import open_wedge

        def open_port() -> TextPort:
            return open_wedge(config.device, config.wedge_keymap)

        suffix = ENTER
    return ScannerReader(config.device, open_port, lambda: LineFramer(suffix, config.max_line), decoder, emit)
