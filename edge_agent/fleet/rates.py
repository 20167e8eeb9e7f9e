"""Reader activity: running totals per reader, and per-minute rates from samples of those totals.

Totals only ever grow, so the Prometheus output is a counter (a scraper computes its own rates) and the health
message's rate is a difference of two samples. Reading a rate changes nothing: a scrape cannot disturb the
health message's figure, and neither depends on how often the other is read.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from edge_agent.const import RATE_WINDOW_S

Kind = Literal["scans", "taps", "adverts"]
READER_KINDS: Mapping[str, Kind] = {"barcode": "scans", "scanner": "scans", "nfc": "taps", "ble": "adverts"}
"""What each reader's events are called on the health message; a reader not named here counts scans."""


def kind_of(reader: str) -> Kind:
    return READER_KINDS.get(reader, "scans")


@dataclass
class SampleWindow:
    """Samples of growing totals at monotonic times, kept over the last ``window_s``: a rate is the difference
    between the oldest kept sample and the newest. The newest sample older than the window is kept too, so a rate
    always spans at least the window once the agent has run that long."""

    window_s: float = RATE_WINDOW_S
    _samples: deque[tuple[float, dict[str, float]]] = field(default_factory=deque)

    def add(self, now: float, totals: dict[str, float]) -> None:
        self._samples.append((now, totals))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window_s:
            self._samples.popleft()

    def per_second(self) -> dict[str, float]:
        """Growth per second of each total; empty before two samples."""
        if len(self._samples) < 2:
            return {}
        (t0, first), (t1, last) = self._samples[0], self._samples[-1]
        span = t1 - t0
        if span <= 0:
            return {}
        return {key: (n - first.get(key, 0)) / span for key, n in last.items()}


@dataclass
class ReaderActivity:
    """Fed on the loop: :meth:`seen` for events the agent receives, :meth:`watch` for a reader that counts its own
    (the BLE reader hears hundreds of adverts a second and hands the loop only zone changes)."""

    window: SampleWindow = field(default_factory=SampleWindow)
    _seen: Counter[str] = field(default_factory=Counter)
    _watched: dict[str, Callable[[], int]] = field(default_factory=dict)

    def seen(self, reader: str, n: int = 1) -> None:
        self._seen[reader] += n

    def watch(self, reader: str, total: Callable[[], int]) -> None:
        self._watched[reader] = total

    def totals(self) -> dict[str, int]:
        out = dict(self._seen)
        for reader, total in self._watched.items():
            out[reader] = out.get(reader, 0) + total()
        return out

    def sample(self, now: float) -> None:
        self.window.add(now, {k: float(v) for k, v in self.totals().items()})

    def per_minute(self) -> dict[str, float]:
        """Events per minute per reader over the last window; empty before two samples."""
        return {reader: round(rate * 60.0, 2) for reader, rate in self.window.per_second().items()}
