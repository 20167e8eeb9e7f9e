"""Presence reports: aggregates per beacon role, zone and time bucket; never a raw sighting or address."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Zone = Literal["immediate", "near", "far", "gone"]
"""How close a beacon is, from its calibrated RSSI (readers/ble/zones.py)."""
Role = Literal["store", "associate", "app"]
"""Whose beacon: the store's fixtures, an associate's badge, or an opted-in shopper app."""


class ZonePresence(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Role
    zone: Zone
    visitors: int = Field(description="distinct beacons in the zone at any time during the bucket")
    peak_occupancy: int = Field(description="most beacons in the zone at the same time")
    dwell_histogram: list[int] = Field(
        description="visits that ended in this bucket by dwell: [< bins[0], < bins[1], ..., >= bins[-1]]"
    )


class PresenceReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket_start: datetime
    bucket_s: int
    dwell_bins_s: list[float]
    zones: list[ZonePresence]
    suppressed_cells: int = Field(description="shopper cells left out for having fewer than min_count visitors")
