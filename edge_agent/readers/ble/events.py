"""Typed events of the BLE reader (health and rejections use :mod:`edge_agent.readers.events`).

No event carries a Bluetooth address. Beacons are named by their beacon id (``ibeacon:<uuid>:<major>:<minor>``,
``eddystone-uid:<ns>:<instance>``, ...). A shopper-app token appears only in :class:`ProximityTokenSeen`; zone
events name the app beacon by an in-memory pseudonym that means nothing after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.contract.presence import Role, Zone

__all__ = ["Role", "Zone"]

ZONES: tuple[Zone, ...] = ("gone", "far", "near", "immediate")
"""Weakest to strongest; a zone's index is its level."""


@dataclass(frozen=True, slots=True)
class ZoneChanged:
    """A beacon moved from ``previous`` to ``zone`` (``gone`` -> x is an enter, x -> ``gone`` an exit).

    ``label`` is the shelf name (store), the associate id (associate) or "" (app); ``previous_dwell_s`` is
    how long it stayed in ``previous`` (0 when that was ``gone``)."""

    beacon: str
    role: Role
    label: str
    previous: Zone
    zone: Zone
    rssi_dbm: float
    previous_dwell_s: float
    reader: str
    at: float

    @property
    def entered(self) -> bool:
        return self.previous == "gone"

    @property
    def exited(self) -> bool:
        return self.zone == "gone"


@dataclass(frozen=True, slots=True)
class ZoneDwell:
    """Still in ``zone`` after ``dwell_s`` (every ``zones.dwell_event_s``)."""

    beacon: str
    role: Role
    label: str
    zone: Zone
    dwell_s: float
    reader: str
    at: float


@dataclass(frozen=True, slots=True)
class ProximityTokenSeen:
    """An opted-in shopper app is immediate/near this device: an OFFER of identification the shopper must
    confirm on screen (proximity is not intent). ``token_hex`` is the app's rotating 32-bit token."""

    token_hex: str
    zone: Zone
    reader: str
    at: float

    def __repr__(self) -> str:  # a live token is a credential for its validity window: keep it out of logs
        return f"ProximityTokenSeen(zone={self.zone!r}, reader={self.reader!r})"


@dataclass(frozen=True, slots=True)
class BeaconTelemetry:
    """Eddystone TLM of a registered beacon (battery watch); ``None`` where the beacon does not report."""

    beacon: str
    battery_mv: int | None
    temperature_c: float | None
    adv_count: int
    uptime_s: float
    reader: str
    at: float


BleEvent = ZoneChanged | ZoneDwell | ProximityTokenSeen | BeaconTelemetry
