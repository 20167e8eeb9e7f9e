"""Camera barcode reader: frames -> decoder -> GTIN-14 -> one scan event per code held in view.

Runs in its own thread (cv2 and the decoders block) and hands events to the loop through ``emit``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge_agent.identifiers.gtin import InvalidCode, normalise_gtin
from edge_agent.readers.barcode.decoders import Decoder, Symbol
from edge_agent.readers.barcode.frames import FrameSource
from edge_agent.readers.events import InputRejected, ProductScanned, ReaderEvent, ReaderHealth

log = logging.getLogger(__name__)

READER_NAME = "barcode"


@dataclass
class Debouncer:
    """A code counts again only after it has been out of view for ``window_s`` (held in view = one scan)."""

    window_s: float
    _last_seen: dict[str, float] = field(default_factory=dict)

    def admit(self, code: str, now: float) -> bool:
        last = self._last_seen.get(code)
        self._last_seen[code] = now
        if len(self._last_seen) > 256:  # bounded: forget codes long out of view
            self._last_seen = {c: t for c, t in self._last_seen.items() if now - t <= self.window_s}
        return last is None or now - last > self.window_s


def symbol_to_event(symbol: Symbol, now: float) -> ProductScanned | InputRejected:
    try:
        gtin = normalise_gtin(symbol.text)
    except InvalidCode as exc:
        return InputRejected(READER_NAME, exc.reason, f"{symbol.symbology} {symbol.text[:32]!r}: {exc}")
    return ProductScanned(gtin, symbol.symbology, READER_NAME, now)


@dataclass
class BarcodeReader:
    open_source: Callable[[], FrameSource]
    decoder: Decoder
    emit: Callable[[ReaderEvent], None]
    debounce: Debouncer
    every_nth_frame: int = 1
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    frames_read: int = 0
    frames_decoded: int = 0

    def run(self, stop: threading.Event) -> None:
        """Blocking loop for a thread: ends at the end of a file, on ``stop``, or when the camera fails."""
        try:
            source = self.open_source()
        except OSError as exc:
            self.emit(ReaderHealth(READER_NAME, "stopped", str(exc)))
            return
        self.emit(ReaderHealth(READER_NAME, "ok", "camera open"))
        try:
            while not stop.is_set():
                frame = source.read()
                if frame is None:
                    break
                self.frames_read += 1
                if self.frames_read % self.every_nth_frame:
                    continue
                self.frames_decoded += 1
                self.process(self.decoder.decode(frame))
        finally:
            source.close()
            self.emit(ReaderHealth(READER_NAME, "stopped", f"end of input after {self.frames_read} frames"))

    def process(self, symbols: list[Symbol]) -> None:
        now = self.clock()
        for symbol in symbols:
            if not self.debounce.admit(symbol.symbology + symbol.text, now):
                continue
            self.emit(symbol_to_event(symbol, self.wall()))
