"""Presence analytics, aggregated on the device: occupancy and dwell per zone and time bucket.

Pure and synchronous: feed :class:`~edge_agent.readers.ble.events.ZoneChanged` events to
:meth:`PresenceAggregator.observe`, call :meth:`PresenceAggregator.flush` periodically and publish the
returned :class:`PresenceReport` models. Raw visits (who was in which zone when) never leave this object: they
are kept only until their bucket is reported and never longer than ``sightings_retention_s`` (≤ 24 h, the
retention the Dutch DPA found appropriate for visitor data; retail note §4). Shopper (``app``) cells with fewer
than ``min_count`` distinct visitors are suppressed, so a single shopper's visit is not readable in a report.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from edge_agent.contract.presence import PresenceReport, ZonePresence
from edge_agent.readers.ble.config import PresenceConfig
from edge_agent.readers.ble.events import Role, Zone, ZoneChanged

MAX_OPEN_VISITS = 10_000
"""Bound on visit records held at once; a shop floor has hundreds of tracked beacons at most."""

__all__ = ["PresenceAggregator", "PresenceConfig"]


@dataclass(slots=True)
class _Visit:
    subject: str
    role: Role
    zone: Zone
    start: float
    end: float = math.inf


class PresenceAggregator:
    def __init__(self, config: PresenceConfig) -> None:
        self.config = config
        self._open: dict[str, _Visit] = {}
        self._closed: list[_Visit] = []
        self._next_bucket: float | None = None

    @property
    def held_visits(self) -> int:
        """Raw visit records in memory (open and not yet reported)."""
        return len(self._open) + len(self._closed)

    def observe(self, event: ZoneChanged) -> None:
        self._start(event.at)
        visit = self._open.pop(event.beacon, None)
        if visit is not None:
            visit.end = max(event.at, visit.start)
            self._closed.append(visit)
        if event.zone != "gone" and len(self._open) < MAX_OPEN_VISITS:
            self._open[event.beacon] = _Visit(event.beacon, event.role, event.zone, event.at)

    def flush(self, now: float) -> list[PresenceReport]:
        """Reports for every bucket that ended at or before ``now``, oldest first; then forget what they used."""
        self._start(now)
        assert self._next_bucket is not None
        size = self.config.bucket_s
        oldest = self._bucket_of(now - self.config.sightings_retention_s)
        self._next_bucket = max(self._next_bucket, oldest)
        reports = []
        while self._next_bucket + size <= now:
            reports.append(self._report(self._next_bucket, self._next_bucket + size))
            self._next_bucket += size
        self._forget(now)
        return reports

    def _start(self, t: float) -> None:
        if self._next_bucket is None:
            self._next_bucket = self._bucket_of(t)

    def _bucket_of(self, t: float) -> float:
        return math.floor(t / self.config.bucket_s) * self.config.bucket_s

    def _report(self, b0: float, b1: float) -> PresenceReport:
        cells: dict[tuple[Role, Zone], tuple[set[str], list[tuple[float, int]], list[int]]] = {}
        bins = self.config.dwell_bins_s
        for visit in [*self._closed, *self._open.values()]:
            overlaps, ended = visit.start < b1 and visit.end > b0, b0 <= visit.end < b1
            if not (overlaps or ended):
                continue
            subjects, edges, histogram = cells.setdefault((visit.role, visit.zone), (set(), [], [0] * (len(bins) + 1)))
            if overlaps:
                subjects.add(visit.subject)
                edges += [(max(visit.start, b0), 1), (min(visit.end, b1), -1)]
            if ended:
                histogram[bisect.bisect_right(bins, visit.end - visit.start)] += 1
        zones, suppressed = [], 0
        for (role, zone), (subjects, edges, histogram) in sorted(cells.items()):
            if role == "app" and len(subjects) < self.config.min_count:
                suppressed += 1
                continue
            zones.append(ZonePresence(role=role, zone=zone, visitors=len(subjects),
                                      peak_occupancy=_peak(edges), dwell_histogram=histogram))  # fmt: skip
        return PresenceReport(
            bucket_start=datetime.fromtimestamp(b0, UTC),
            bucket_s=self.config.bucket_s,
            dwell_bins_s=list(bins),
            zones=zones,
            suppressed_cells=suppressed,
        )

    def _forget(self, now: float) -> None:
        """Closed visits are dropped once reported; nothing is held beyond the retention window."""
        assert self._next_bucket is not None
        horizon = max(self._next_bucket, now - self.config.sightings_retention_s)
        self._closed = [v for v in self._closed if v.end >= horizon]
        floor = now - self.config.sightings_retention_s
        for visit in self._open.values():
            visit.start = max(visit.start, floor)  # an endless stay is remembered only within the window


def _peak(edges: list[tuple[float, int]]) -> int:
    """Most concurrent visits, from (time, +1/-1) edges; a departure and an arrival at one instant do not
    overlap (departures sort first)."""
    current = peak = 0
    for _, delta in sorted(edges):
        current += delta
        peak = max(peak, current)
    return peak
