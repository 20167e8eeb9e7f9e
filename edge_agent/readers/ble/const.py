"""BLE reader constants, each with the reason for its value (hardware note §2-3).

*default* marks values config may override (:mod:`edge_agent.readers.ble.config`); the rest are protocol
layouts or safety bounds.
"""

from __future__ import annotations

from typing import Final

READER_NAME: Final = "ble"

# --- frame layouts (hardware note §3) ----------------------------------------------------------------------
APPLE_COMPANY_ID: Final = 0x004C
"""iBeacon lives in Apple's manufacturer data; bleak strips the company id into the dict key."""
IBEACON_PREFIX: Final = b"\x02\x15"
IBEACON_LEN: Final = 23
"""02 15 | UUID(16) | major(2 BE) | minor(2 BE) | measured power int8 @1 m (Apple Proximity Beacon spec)."""
ALTBEACON_CODE: Final = b"\xbe\xac"
ALTBEACON_LEN: Final = 24
"""BE AC | beacon ID(20) | reference RSSI int8 @1 m | reserved(1), under any company id (AltBeacon spec)."""
EDDYSTONE_UUID: Final = "0000feaa-0000-1000-8000-00805f9b34fb"
"""bleak keys service data by the 128-bit form of the 16-bit Eddystone UUID 0xFEAA."""
EDDYSTONE_UID, EDDYSTONE_URL, EDDYSTONE_TLM, EDDYSTONE_EID = 0x00, 0x10, 0x20, 0x30
EDDYSTONE_UID_LEN: Final = 20
EDDYSTONE_UID_SHORT_LEN: Final = 18
"""UID is 20 bytes with 2 RFU bytes; some emitters drop the RFU bytes and send 18."""
EDDYSTONE_URL_MAX_LEN: Final = 20
"""Frame type, tx power, scheme and at most 17 encoded URL bytes."""
EDDYSTONE_TLM_LEN: Final = 14
TLM_NO_TEMPERATURE: Final = 0x8000
"""TEMP s8.8 value meaning "not supported"."""
EDDYSTONE_CALIBRATION_OFFSET_DB: Final = 41
"""Eddystone calibrates tx power at 0 m; the 1 m equivalent is tx0 - 41 dB."""

# --- filter and tracking bounds ------------------------------------------------------------------------
PAYLOAD_CACHE_MAX: Final = 2048
"""Registered payloads remembered so an unchanged advert (only RSSI moved) skips parsing; cleared when full."""
MAX_TRACKED_BEACONS: Final = 1024
"""Beacons tracked at once; a store has tens, rotating app tokens add a few hundred at most. Beyond this the
least recently seen is dropped, so a flood of forged registered ids cannot grow memory."""
TLM_LINK_TTL_S: Final = 15.0
"""A TLM frame (no id of its own) is tied to a UID/URL frame of the same emitter seen this recently. Eddystone
beacons interleave frames every few seconds; addresses rotate, so a longer link would mislink."""
TLM_LINK_MAX: Final = 1024
"""Bound on the address-hash -> beacon links kept for TLM frames."""
REJECT_EVENT_INTERVAL_S: Final = 60.0
"""At most one InputRejected event per reason per minute; every rejection is still counted."""

# --- zones (hardware note §3, "Zone" measurements) -----------------------------------------------------------
DEFAULT_IMMEDIATE_DBM: Final = -55.0
"""*default* ~0.5 m for a beacon with -59 dBm at 1 m (path-loss exponent 2)."""
DEFAULT_NEAR_DBM: Final = -68.0
"""*default* ~2 m at the same calibration; the hardware note's single threshold was -65 dBm."""
DEFAULT_FAR_DBM: Final = -90.0
"""*default* RSSI floor: weaker is out of range ("gone"); the retail note asks for an RSSI floor."""
DEFAULT_HYSTERESIS_DB: Final = 6.0
"""*default* A 6 dB band took a noisy walk-by from 6 transitions to the ideal 2 (hardware note §3)."""
DEFAULT_EMA_TAU_S: Final = 2.0
"""*default* 2-5 s of smoothing cuts the distance error 3-4x; a 2 s time constant still follows a walk."""
DEFAULT_MIN_DWELL_S: Final = 2.0
"""*default* A new zone must hold this long before it is reported."""
DEFAULT_ABSENCE_S: Final = 8.0
"""*default* 3-5x the advert interval of a typical 1-2 Hz beacon without a sighting: gone."""
DEFAULT_DWELL_EVENT_S: Final = 30.0
"""*default* A beacon staying in one zone reports a ZoneDwell every 30 s."""

# --- scanner recovery ----------------------------------------------------------------------------------
DEFAULT_ADAPTER: Final = "hci0"
DEFAULT_WATCHDOG_S: Final = 30.0
"""*default* No advert at all for 30 s restarts discovery: BlueZ discovery can stall silently (controller
reset, another client's StopDiscovery); a store always has some advertiser in range."""
DEFAULT_START_TIMEOUT_S: Final = 10.0
DEFAULT_STOP_TIMEOUT_S: Final = 5.0
"""*default* bluetoothd answers in milliseconds; a call hanging this long means it is wedged."""
DEFAULT_ADAPTER_BACKOFF_BASE_S: Final = 1.0
DEFAULT_ADAPTER_BACKOFF_CAP_S: Final = 60.0
"""*default* A missing or powered-off adapter is retried with full-jitter backoff up to 60 s: a replug or
power-on is noticed within a minute, an absent adapter costs nothing."""
HOUSEKEEPING_TICK_S: Final = 0.5
"""Housekeeping period: absence timeouts, dwell events, watchdog and the adapter check."""
ADAPTER_CHECK_S: Final = 2.0
"""While scanning, the adapter's presence and power are re-read this often (a D-Bus GetAll, ~0.3 ms)."""

# --- presence analytics ------------------------------------------------------------------------------------
MAX_RETENTION_S: Final = 24 * 3600
"""Raw presence is kept at most 24 h (retail note §4, device rule 4; the Dutch DPA's figure for visitor data)."""
DEFAULT_RETENTION_S: Final = 3600
"""*default* Raw visits are needed only until their bucket is reported; an hour covers a slow publisher."""
DEFAULT_BUCKET_S: Final = 300
"""*default* 5-minute buckets: fine enough for staffing, coarse enough that one visit is not a data point."""
DEFAULT_DWELL_BINS_S: Final = (10.0, 30.0, 60.0, 120.0, 300.0, 900.0)
"""*default* Histogram edges: a glance, a look, a browse, a consult, a long stay."""
DEFAULT_MIN_COUNT: Final = 3
"""*default* k: shopper cells with fewer distinct visitors are suppressed (retail note §4: only aggregates
with count >= k leave the device)."""
