"""BLE reader configuration (the ``[readers.ble]`` section): validated once, with errors naming the key."""

from __future__ import annotations

import itertools
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from edge_agent.readers.ble import const
from edge_agent.readers.ble.frames import format_beacon_id, parse_beacon_id


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _canonical_id(text: str) -> str:
    return format_beacon_id(parse_beacon_id(text))


BeaconIdText = Annotated[str, AfterValidator(_canonical_id)]
"""``ibeacon:<uuid>:<major>:<minor>`` | ``altbeacon:<uuid>:<id2>:<id3>`` | ``eddystone-uid:<ns>:<instance>`` |
``eddystone-url:<url>``, stored in canonical form (lower-case UUID with dashes)."""
Label = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._/-]*$")]


class StoreBeacon(_Section):
    """A fixture: the device near it is near that shelf."""

    id: BeaconIdText
    name: Label = Field(description="shelf or fixture name, e.g. dairy-3")
    zone: Label = Field(description="store area the fixture belongs to, e.g. dairy")
    rssi_offset_db: float = Field(default=0.0, ge=-30, le=30, description="added to this beacon's RSSI")


class AssociateBadge(_Section):
    id: BeaconIdText
    associate_id: Label


class RegistrySection(_Section):
    """The only beacons tracked. Anything else -- every shopper's phone -- is dropped at the filter."""

    store_beacons: list[StoreBeacon] = []
    associate_badges: list[AssociateBadge] = []
    app_token_uuid: uuid.UUID | None = Field(
        default=None,
        description="iBeacon UUID of the opted-in shopper app; major<<16|minor is its rotating 32-bit token",
    )

    @model_validator(mode="after")
    def _unique(self) -> RegistrySection:
        ids = [b.id for b in self.store_beacons] + [b.id for b in self.associate_badges]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"beacon ids listed twice: {', '.join(dupes)}")
        if self.app_token_uuid is not None:
            clash = [i for i in ids if i.startswith(f"ibeacon:{self.app_token_uuid}:")]
            if clash:
                raise ValueError(f"app_token_uuid is also used by registered beacons: {', '.join(clash)}")
        return self


class ZoneSection(_Section):
    """Smoothed-RSSI thresholds in dBm: at or above ``immediate_dbm`` is immediate, and so on; below
    ``far_dbm`` is gone. Entering a stronger zone needs threshold + hysteresis/2, leaving needs
    threshold - hysteresis/2, and a new zone must hold ``min_dwell_s`` before it is reported."""

    immediate_dbm: float = Field(default=const.DEFAULT_IMMEDIATE_DBM, ge=-120, le=0)
    near_dbm: float = Field(default=const.DEFAULT_NEAR_DBM, ge=-120, le=0)
    far_dbm: float = Field(default=const.DEFAULT_FAR_DBM, ge=-120, le=0)
    hysteresis_db: float = Field(default=const.DEFAULT_HYSTERESIS_DB, ge=0, le=20)
    ema_tau_s: float = Field(default=const.DEFAULT_EMA_TAU_S, gt=0, le=60)
    min_dwell_s: float = Field(default=const.DEFAULT_MIN_DWELL_S, ge=0, le=60)
    absence_s: float = Field(default=const.DEFAULT_ABSENCE_S, gt=0, le=600)
    dwell_event_s: float = Field(default=const.DEFAULT_DWELL_EVENT_S, gt=0, le=3600)

    @model_validator(mode="after")
    def _ordered(self) -> ZoneSection:
        gaps = (self.immediate_dbm - self.near_dbm, self.near_dbm - self.far_dbm)
        if min(gaps) <= self.hysteresis_db:
            raise ValueError(
                "zone thresholds must descend immediate_dbm > near_dbm > far_dbm by more than hysteresis_db "
                f"(got {self.immediate_dbm} / {self.near_dbm} / {self.far_dbm}, band {self.hysteresis_db})"
            )
        return self


class PresenceConfig(_Section):
    """Presence analytics (:mod:`edge_agent.presence`): bucket length, dwell histogram edges, how long raw
    visits may be held (≤ 24 h) and k, the smallest shopper cell that is reported."""

    bucket_s: int = Field(
        default=const.DEFAULT_BUCKET_S, ge=10, le=3600, description="report period; must divide an hour"
    )
    dwell_bins_s: Annotated[list[float], Field(min_length=1, max_length=20)] = list(const.DEFAULT_DWELL_BINS_S)
    sightings_retention_s: int = Field(default=const.DEFAULT_RETENTION_S, ge=60, le=const.MAX_RETENTION_S)
    min_count: int = Field(
        default=const.DEFAULT_MIN_COUNT, ge=1, le=100, description="k: smaller shopper cells are suppressed"
    )

    @model_validator(mode="after")
    def _consistent(self) -> PresenceConfig:
        if 3600 % self.bucket_s:
            raise ValueError(f"bucket_s must divide 3600 so buckets align to the hour, got {self.bucket_s}")
        bins = self.dwell_bins_s
        if any(b <= 0 for b in bins) or any(b2 <= b1 for b1, b2 in itertools.pairwise(bins)):
            raise ValueError(f"dwell_bins_s must be positive and strictly increasing, got {bins}")
        if self.sightings_retention_s < self.bucket_s:
            raise ValueError("sightings_retention_s must be at least bucket_s, or buckets could not be reported")
        return self


class BleConfig(_Section):
    enabled: bool = True
    adapter: Annotated[str, StringConstraints(pattern=r"^hci[0-9]{1,3}$")] = const.DEFAULT_ADAPTER
    scanning_mode: Literal["active", "passive"] = Field(
        default="active", description="passive needs BlueZ >= 5.56 with --experimental; falls back to active"
    )
    zones: ZoneSection = ZoneSection()
    registry: RegistrySection = RegistrySection()
    analytics: PresenceConfig = PresenceConfig()
    watchdog_s: float = Field(default=const.DEFAULT_WATCHDOG_S, gt=0, le=3600)
    start_timeout_s: float = Field(default=const.DEFAULT_START_TIMEOUT_S, gt=0, le=120)
    stop_timeout_s: float = Field(default=const.DEFAULT_STOP_TIMEOUT_S, gt=0, le=120)
    backoff_base_s: float = Field(default=const.DEFAULT_ADAPTER_BACKOFF_BASE_S, gt=0, le=600)
    backoff_cap_s: float = Field(default=const.DEFAULT_ADAPTER_BACKOFF_CAP_S, gt=0, le=3600)
