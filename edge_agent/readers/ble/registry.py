"""The early filter: an advert becomes a sighting only if it carries a registered beacon id or the opted-in
app's token. Everything else -- every shopper's phone, every ambient advert -- is counted as
``not_registered`` and forgotten: nothing about it is kept, so nothing can be fingerprinted.

Cheap by construction: registered payloads are cached by their exact bytes, so an advert whose bytes did not
change (BlueZ re-signals a beacon when only its RSSI moved) costs one dict lookup. Bounded: every map here
has a size cap, and the TLM links a TTL.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from edge_agent.readers.ble import const
from edge_agent.readers.ble.config import RegistrySection
from edge_agent.readers.ble.events import Role
from edge_agent.readers.ble.frames import (
    BeaconKey,
    EddystoneTlm,
    EddystoneUid,
    EddystoneUrl,
    Rejected,
    frame_key,
    parse_beacon_id,
    parse_eddystone,
    parse_manufacturer,
)


@dataclass(frozen=True, slots=True)
class Entry:
    """What a registered id means here. ``beacon`` is the public name in events: the beacon id, or for an
    app token a salted pseudonym (the token itself only travels in ProximityTokenSeen)."""

    beacon: str
    role: Role
    label: str
    rssi_offset_db: float = 0.0
    token_hex: str = ""


@dataclass(frozen=True, slots=True)
class Sighting:
    entry: Entry
    rssi: float


@dataclass(frozen=True, slots=True)
class Telemetry:
    entry: Entry
    tlm: EddystoneTlm


@dataclass
class Registry:
    """Registry config turned into raw-byte lookups (no string formatting on the hot path)."""

    by_key: dict[BeaconKey, Entry]
    app_uuid: bytes | None
    salt: bytes = field(default_factory=lambda: os.urandom(16))

    @classmethod
    def from_config(cls, config: RegistrySection) -> Registry:
        by_key: dict[BeaconKey, Entry] = {}
        for store in config.store_beacons:
            by_key[parse_beacon_id(store.id)] = Entry(store.id, "store", store.name, store.rssi_offset_db)
        for badge in config.associate_badges:
            by_key[parse_beacon_id(badge.id)] = Entry(badge.id, "associate", badge.associate_id)
        app_uuid = config.app_token_uuid.bytes if config.app_token_uuid is not None else None
        return cls(by_key, app_uuid)

    def lookup(self, key: BeaconKey) -> Entry | None:
        entry = self.by_key.get(key)
        if entry is None and self.app_uuid is not None and key[0] == "ibeacon" and key[1][:16] == self.app_uuid:
            token = key[1][16:].hex()  # major<<16 | minor, big-endian: the app's rotating 32-bit token
            pseudonym = hashlib.blake2b(key[1], key=self.salt, digest_size=6).hexdigest()
            entry = Entry(f"app:{pseudonym}", "app", "", token_hex=token)
        return entry


@dataclass
class AdvertFilter:
    """bleak advert dicts -> sightings of registered beacons; counts every outcome in ``counts``."""

    registry: Registry
    counts: Counter[str] = field(default_factory=Counter)
    salt: bytes = field(default_factory=lambda: os.urandom(16))
    _cache: dict[tuple[int | str, bytes], Entry] = field(default_factory=dict, repr=False)
    _tlm_links: dict[bytes, tuple[Entry, float]] = field(default_factory=dict, repr=False)

    def feed(
        self, mfr: Mapping[int, bytes], svc: Mapping[str, bytes], rssi: float, address: str, now: float
    ) -> tuple[list[Sighting | Telemetry], list[Rejected]]:
        """One advert. ``address`` is used only to tie Eddystone TLM to its UID/URL frame, as a keyed hash
        held for :data:`~const.TLM_LINK_TTL_S`; it is never stored or returned."""
        self.counts["adverts"] += 1
        out: list[Sighting | Telemetry] = []
        rejected: list[Rejected] = []
        for company, data in mfr.items():
            entry = self._cache.get((company, data))
            if entry is not None:
                self.counts["unchanged"] += 1
                out.append(Sighting(entry, rssi + entry.rssi_offset_db))
                continue
            frame = parse_manufacturer(company, data)
            if frame is None:
                self.counts["not_registered"] += 1
            elif isinstance(frame, Rejected):
                self._reject(frame, rejected)
            else:
                self._sight(frame_key(frame), (company, data), rssi, out)
        eddystone = svc.get(const.EDDYSTONE_UUID)
        if eddystone is not None:
            self._eddystone(eddystone, rssi, address, now, out, rejected)
        elif not mfr:
            self.counts["not_registered"] += 1
        return out, rejected

    def _sight(
        self, key: BeaconKey, cache_key: tuple[int | str, bytes], rssi: float, out: list[Sighting | Telemetry]
    ) -> Entry | None:
        entry = self.registry.lookup(key)
        if entry is None:
            self.counts["not_registered"] += 1
            return None
        self.counts["registered"] += 1
        if len(self._cache) >= const.PAYLOAD_CACHE_MAX:
            self._cache.clear()
        self._cache[cache_key] = entry
        out.append(Sighting(entry, rssi + entry.rssi_offset_db))
        return entry

    def _eddystone(
        self,
        data: bytes,
        rssi: float,
        address: str,
        now: float,
        out: list[Sighting | Telemetry],
        rejected: list[Rejected],
    ) -> None:
        entry = self._cache.get((const.EDDYSTONE_UUID, data))
        if entry is not None:
            self.counts["unchanged"] += 1
            out.append(Sighting(entry, rssi + entry.rssi_offset_db))
            self._link(address, entry, now)
            return
        frame = parse_eddystone(data)
        if isinstance(frame, Rejected):
            self._reject(frame, rejected)
        elif isinstance(frame, EddystoneTlm):
            link = self._tlm_links.get(self._emitter(address))
            if link is None or now - link[1] > const.TLM_LINK_TTL_S:
                self.counts["tlm_unlinked"] += 1
            else:
                self.counts["telemetry"] += 1
                out.append(Telemetry(link[0], frame))
        elif isinstance(frame, EddystoneUid | EddystoneUrl):
            entry = self._sight(frame_key(frame), (const.EDDYSTONE_UUID, data), rssi, out)
            if entry is not None:
                self._link(address, entry, now)

    def _link(self, address: str, entry: Entry, now: float) -> None:
        if len(self._tlm_links) >= const.TLM_LINK_MAX:
            self._tlm_links = {k: v for k, v in self._tlm_links.items() if now - v[1] <= const.TLM_LINK_TTL_S}
            if len(self._tlm_links) >= const.TLM_LINK_MAX:
                self._tlm_links.clear()
        self._tlm_links[self._emitter(address)] = (entry, now)

    def _emitter(self, address: str) -> bytes:
        """Keyed hash with a per-process random salt: unlinkable after a restart, and never leaves RAM."""
        return hashlib.blake2b(address.encode(), key=self.salt, digest_size=8).digest()

    def _reject(self, frame: Rejected, rejected: list[Rejected]) -> None:
        self.counts["rejected"] += 1
        self.counts[f"rejected:{frame.reason}"] += 1
        rejected.append(frame)
