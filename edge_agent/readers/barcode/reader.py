"""Camera barcode reader: frames -> decoder -> product key (or an app QR credential) -> one event per code held in view.

Runs in its own thread (cv2 and the decoders block) and hands events to the loop through ``emit``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from edge_agent.readers.barcode.decoders import Decoder, Symbol
from edge_agent.readers.barcode.frames import FrameSource
from edge_agent.readers.barcode.rest import RestDetector
from edge_agent.readers.codes import code_to_event
from edge_agent.readers.events import IdentityPresented, InputRejected, ProductScanned, ReaderEvent, ReaderHealth

if TYPE_CHECKING:
    from biip.rcn import RcnRegion

log = logging.getLogger(__name__)

READER_NAME = "barcode"


@dataclass
class ScanGate:
    """Decides when a decoded code becomes a scan.

    - A code must appear in ``votes`` of the last ``window`` decoded frames: a check-digit-valid misread of a
      neighbouring code happens on single frames (seen with zxing on clean video), a real code persists.
    - Held in view it is one scan: it counts again only after ``debounce_s`` out of view.
    """

    debounce_s: float
    votes: int = 2
    window: int = 3
    _frame: int = 0
    _hits: dict[str, list[int]] = field(default_factory=dict)
    _last_seen: dict[str, float] = field(default_factory=dict)

    def frame(self, codes: list[str], now: float) -> list[str]:
        """Feed one decoded frame's codes; returns those that become scans now."""
        self._frame += 1
        admitted = []
        for code in dict.fromkeys(codes):  # a code twice in one frame is one vote
            last = self._last_seen.get(code)
            if last is not None and now - last <= self.debounce_s:
                self._last_seen[code] = now  # still in view: not a new scan
                continue
            hits = [f for f in self._hits.get(code, []) if f > self._frame - self.window] + [self._frame]
            if len(hits) >= self.votes:
                admitted.append(code)
                self._last_seen[code] = now
                self._hits.pop(code, None)
            else:
                self._hits[code] = hits
        self._forget(now)
        return admitted

    def _forget(self, now: float) -> None:
        """Bounded memory: drop votes that can no longer count and codes long out of view."""
        if len(self._hits) > 64:
            self._hits = {c: h for c, h in self._hits.items() if h[-1] > self._frame - self.window}
        if len(self._last_seen) > 256:
            self._last_seen = {c: t for c, t in self._last_seen.items() if now - t <= self.debounce_s}


def symbol_to_event(
    symbol: Symbol, now: float, rcn_region: RcnRegion | str | None = None
) -> ProductScanned | IdentityPresented | InputRejected:
    """A shopper's app QR code is an identity presentation; anything else must be a product code."""
    return code_to_event(symbol.text, symbol.symbology, READER_NAME, now, rcn_region)


@dataclass
class BarcodeReader:
    open_source: Callable[[], FrameSource]
    decoder: Decoder
    emit: Callable[[ReaderEvent], None]
    gate: ScanGate
    every_nth_frame: int = 1
    rcn_region: RcnRegion | str | None = None
    rest: RestDetector | None = None
    """Skips frames that show nothing new (rest.py); None decodes every (n-th) frame."""
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
                if self.rest is not None and not self.rest.should_decode(frame):
                    continue
                self.frames_decoded += 1
                self.process(self.decoder.decode(frame))
        finally:
            source.close()
            self.emit(ReaderHealth(READER_NAME, "stopped", f"end of input after {self.frames_read} frames"))

    def process(self, symbols: list[Symbol]) -> None:
        by_key = {symbol.symbology + symbol.text: symbol for symbol in symbols}
        for key in self.gate.frame(list(by_key), self.clock()):
            self.emit(symbol_to_event(by_key[key], self.wall(), self.rcn_region))
