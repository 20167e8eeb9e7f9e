"""RSSI -> proximity zone for one beacon: time-aware EMA, hysteresis band, minimum dwell, absence timeout.

Single RSSI samples are useless (±5-10 dB shadowing); the hardware note §3 measured a raw threshold at 52
transitions for one walk-up/dwell/leave, EMA + single threshold at 6, and EMA + a 6 dB band at the ideal 2.
The minimum dwell adds a second guard: a new zone must hold before it is reported. Pure and synchronous.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from edge_agent.readers.ble import const
from edge_agent.readers.ble.config import ZoneSection
from edge_agent.readers.ble.events import ZONES, BleEvent, ProximityTokenSeen, Zone, ZoneChanged, ZoneDwell
from edge_agent.readers.ble.registry import Entry

GONE, FAR, NEAR, IMMEDIATE = range(4)


@dataclass(frozen=True, slots=True)
class Transition:
    previous: Zone
    zone: Zone
    rssi_dbm: float
    previous_dwell_s: float


@dataclass(frozen=True, slots=True)
class Dwell:
    zone: Zone
    dwell_s: float


@dataclass(slots=True)
class ZoneTracker:
    """One beacon's zone. Feed every sighting to :meth:`sighting`, and call :meth:`tick` about once a second
    so silence becomes ``gone`` after ``absence_s``."""

    config: ZoneSection
    level: int = GONE
    ema: float | None = None
    last_seen: float = -math.inf
    entered_at: float = 0.0
    pending_since: float | None = None
    next_dwell_at: float = math.inf

    @property
    def zone(self) -> Zone:
        return ZONES[self.level]

    def sighting(self, rssi: float, now: float) -> Transition | None:
        ema = self.ema
        if ema is None or now - self.last_seen > self.config.absence_s:
            ema = rssi  # first sample, or back after an absence: nothing to smooth against
        else:
            alpha = 1.0 - math.exp(-(now - self.last_seen) / self.config.ema_tau_s)
            ema += alpha * (rssi - ema)
        self.ema, self.last_seen = ema, now
        target = self.target_level(ema)
        if target == self.level:
            self.pending_since = None
            return None
        if self.pending_since is None:
            self.pending_since = now
        if now - self.pending_since < self.config.min_dwell_s:
            return None
        return self._move(target, now)

    def tick(self, now: float) -> Transition | Dwell | None:
        if self.level == GONE:
            return None
        if now - self.last_seen > self.config.absence_s:
            return self._move(GONE, now)
        if now >= self.next_dwell_at:
            self.next_dwell_at += self.config.dwell_event_s
            return Dwell(self.zone, now - self.entered_at)
        return None

    def target_level(self, ema: float) -> int:
        """The strongest zone whose threshold the EMA clears: + half the band to move up into it,
        - half the band to stay in it or drop to it."""
        half = self.config.hysteresis_db / 2
        c = self.config
        for level, threshold in ((IMMEDIATE, c.immediate_dbm), (NEAR, c.near_dbm), (FAR, c.far_dbm)):
            if ema >= threshold + (half if level > self.level else -half):
                return level
        return GONE

    def _move(self, target: int, now: float) -> Transition:
        previous, rssi = self.level, self.ema if self.ema is not None else -math.inf
        dwell = now - self.entered_at if previous != GONE else 0.0
        self.level, self.entered_at, self.pending_since = target, now, None
        self.next_dwell_at = now + self.config.dwell_event_s if target != GONE else math.inf
        if target == GONE:
            self.ema = None  # a beacon coming back starts a fresh average, not one from minutes ago
        return Transition(ZONES[previous], ZONES[target], rssi, dwell)


@dataclass
class BeaconTracker:
    """Zone trackers for every registered beacon in range, turned into events. Bounded: beacons are
    forgotten once gone, and at most :data:`~const.MAX_TRACKED_BEACONS` are held (least recently seen
    dropped first)."""

    config: ZoneSection
    reader: str = const.READER_NAME
    max_tracked: int = const.MAX_TRACKED_BEACONS
    beacons: dict[str, tuple[Entry, ZoneTracker]] = field(default_factory=dict)

    def sighting(self, entry: Entry, rssi: float, now: float, wall: float) -> list[BleEvent]:
        held = self.beacons.get(entry.beacon)
        if held is None:
            if len(self.beacons) >= self.max_tracked:
                oldest = min(self.beacons, key=lambda b: self.beacons[b][1].last_seen)
                del self.beacons[oldest]
            held = self.beacons[entry.beacon] = (entry, ZoneTracker(self.config))
        change = held[1].sighting(rssi, now)
        return self._events(entry, change, wall) if change is not None else []

    def tick(self, now: float, wall: float) -> list[BleEvent]:
        events: list[BleEvent] = []
        gone = []
        for beacon, (entry, tracker) in self.beacons.items():
            change = tracker.tick(now)
            if change is not None:
                events += self._events(entry, change, wall)
            if tracker.level == GONE and now - tracker.last_seen > self.config.absence_s:
                gone.append(beacon)
        for beacon in gone:
            del self.beacons[beacon]
        return events

    def zone_of(self, beacon: str) -> Zone:
        held = self.beacons.get(beacon)
        return held[1].zone if held is not None else "gone"

    def _events(self, entry: Entry, change: Transition | Dwell, wall: float) -> list[BleEvent]:
        if isinstance(change, Dwell):
            return [ZoneDwell(entry.beacon, entry.role, entry.label, change.zone, change.dwell_s, self.reader, wall)]
        events: list[BleEvent] = [
            ZoneChanged(
                entry.beacon,
                entry.role,
                entry.label,
                change.previous,
                change.zone,
                round(change.rssi_dbm, 1),
                round(change.previous_dwell_s, 3),
                self.reader,
                wall,
            )
        ]
        if entry.role == "app" and change.zone in OFFER_ZONES and change.previous not in OFFER_ZONES:
            events.append(ProximityTokenSeen(entry.token_hex, change.zone, self.reader, wall))
        return events


OFFER_ZONES: frozenset[Zone] = frozenset({"immediate", "near"})
"""An app token is offered for identification once per approach into one of these zones."""
