"""Beacon frame parsers: bleak's advertisement dicts in, typed frames or a reason out. Pure, never raises.

bleak strips the 2-byte company id into the ``manufacturer_data`` key and keys ``service_data`` by the
128-bit UUID string (hardware note §3). Layouts: iBeacon (Apple Proximity Beacon spec), AltBeacon (AltBeacon
spec), Eddystone UID / URL / TLM (google/eddystone protocol spec). Eddystone-EID is recognised and rejected as
``eddystone_eid_unsupported``: it needs a resolver this device does not have.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from edge_agent.readers.ble import const

_IBEACON = struct.Struct(">16sHHb")
_ALTBEACON = struct.Struct(">20sbB")
_TLM = struct.Struct(">BBHHII")


@dataclass(frozen=True, slots=True)
class IBeacon:
    uuid: bytes
    major: int
    minor: int
    power_1m: int

    @property
    def beacon_id(self) -> str:
        return format_beacon_id(frame_key(self))


@dataclass(frozen=True, slots=True)
class AltBeacon:
    company: int
    id_bytes: bytes
    """20-byte beacon id, conventionally UUID(16) + id2(2) + id3(2)."""
    ref_rssi: int

    @property
    def beacon_id(self) -> str:
        return format_beacon_id(frame_key(self))


@dataclass(frozen=True, slots=True)
class EddystoneUid:
    tx_0m: int
    namespace: bytes
    instance: bytes

    @property
    def beacon_id(self) -> str:
        return format_beacon_id(frame_key(self))


@dataclass(frozen=True, slots=True)
class EddystoneUrl:
    tx_0m: int
    url: str

    @property
    def beacon_id(self) -> str:
        return format_beacon_id(frame_key(self))


@dataclass(frozen=True, slots=True)
class EddystoneTlm:
    """Telemetry has no id of its own; only the emitter ties it to a UID/URL frame."""

    battery_mv: int | None
    temperature_c: float | None
    adv_count: int
    uptime_s: float


@dataclass(frozen=True, slots=True)
class Rejected:
    """A frame that claims a beacon format but breaks it; ``reason`` is a stable counter key."""

    reason: str
    detail: str


IdFrame = IBeacon | AltBeacon | EddystoneUid | EddystoneUrl
Frame = IdFrame | EddystoneTlm


def parse_manufacturer(company: int, data: bytes) -> IBeacon | AltBeacon | Rejected | None:
    """One manufacturer-data entry; ``None`` when it is not a beacon format at all (ambient adverts)."""
    if company == const.APPLE_COMPANY_ID and data[:2] == const.IBEACON_PREFIX:
        if len(data) != const.IBEACON_LEN:
            return Rejected("ibeacon_length", f"{len(data)} bytes, expected {const.IBEACON_LEN}")
        uuid_bytes, major, minor, power = _IBEACON.unpack_from(data, 2)
        return IBeacon(uuid_bytes, major, minor, power)
    if data[:2] == const.ALTBEACON_CODE:
        if len(data) != const.ALTBEACON_LEN:
            return Rejected("altbeacon_length", f"{len(data)} bytes, expected {const.ALTBEACON_LEN}")
        id_bytes, ref_rssi, _reserved = _ALTBEACON.unpack_from(data, 2)
        return AltBeacon(company, id_bytes, ref_rssi)
    return None


def parse_eddystone(data: bytes) -> Frame | Rejected:
    """Eddystone service data (UUID 0xFEAA); the high nibble of byte 0 is the frame type."""
    if not data:
        return Rejected("eddystone_empty", "no frame type byte")
    frame_type = data[0]
    if frame_type == const.EDDYSTONE_UID:
        if len(data) not in (const.EDDYSTONE_UID_LEN, const.EDDYSTONE_UID_SHORT_LEN):
            return Rejected("eddystone_uid_length", f"{len(data)} bytes")
        return EddystoneUid(_int8(data[1]), bytes(data[2:12]), bytes(data[12:18]))
    if frame_type == const.EDDYSTONE_URL:
        return _parse_url(data)
    if frame_type == const.EDDYSTONE_TLM:
        return _parse_tlm(data)
    if frame_type == const.EDDYSTONE_EID:
        return Rejected("eddystone_eid_unsupported", "EID needs a resolver")
    return Rejected("eddystone_frame_type", f"frame type 0x{frame_type:02x}")


def parse_advert(mfr: Mapping[int, bytes], svc: Mapping[str, bytes]) -> list[Frame | Rejected]:
    """Every beacon frame in one advertisement (usually one); ambient non-beacon data yields nothing."""
    out: list[Frame | Rejected] = []
    for company, data in mfr.items():
        frame = parse_manufacturer(company, data)
        if frame is not None:
            out.append(frame)
    eddystone = svc.get(const.EDDYSTONE_UUID)
    if eddystone is not None:
        out.append(parse_eddystone(eddystone))
    return out


# --- Eddystone URL and TLM -------------------------------------------------------------------------------
URL_SCHEMES = ("http://www.", "https://www.", "http://", "https://")
URL_EXPANSIONS = (
    ".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/",
    ".com", ".org", ".edu", ".net", ".info", ".biz", ".gov",
)  # fmt: skip
_URL_PRINTABLE = range(0x21, 0x7F)


def _parse_url(data: bytes) -> EddystoneUrl | Rejected:
    if len(data) < 3 or len(data) > const.EDDYSTONE_URL_MAX_LEN:
        return Rejected("eddystone_url_length", f"{len(data)} bytes")
    scheme = data[2]
    if scheme >= len(URL_SCHEMES):
        return Rejected("eddystone_url_scheme", f"scheme code 0x{scheme:02x}")
    parts = [URL_SCHEMES[scheme]]
    for byte in data[3:]:
        if byte < len(URL_EXPANSIONS):
            parts.append(URL_EXPANSIONS[byte])
        elif byte in _URL_PRINTABLE:
            parts.append(chr(byte))
        else:
            return Rejected("eddystone_url_encoding", f"byte 0x{byte:02x}")
    return EddystoneUrl(_int8(data[1]), "".join(parts))


def _parse_tlm(data: bytes) -> EddystoneTlm | Rejected:
    if len(data) < 2:
        return Rejected("eddystone_tlm_length", f"{len(data)} bytes")
    if data[1] == 0x01:
        return Rejected("eddystone_tlm_encrypted", "eTLM needs the beacon's key")
    if data[1] != 0x00:
        return Rejected("eddystone_tlm_version", f"version 0x{data[1]:02x}")
    if len(data) != const.EDDYSTONE_TLM_LEN:
        return Rejected("eddystone_tlm_length", f"{len(data)} bytes")
    _type, _version, vbatt, temp, adv_count, sec_count = _TLM.unpack(data)
    temperature = None if temp == const.TLM_NO_TEMPERATURE else _int16(temp) / 256.0
    return EddystoneTlm(vbatt or None, temperature, adv_count, sec_count / 10.0)


def _int8(byte: int) -> int:
    return byte - 256 if byte > 127 else byte


def _int16(value: int) -> int:
    return value - 65536 if value > 32767 else value


# --- beacon ids as written in config ----------------------------------------------------------------------
BeaconKind = str
"""``ibeacon`` | ``altbeacon`` | ``eddystone-uid`` | ``eddystone-url``."""
BeaconKey = tuple[BeaconKind, bytes]
"""The raw id bytes a frame carries (URL: UTF-8), so the filter looks frames up without formatting strings."""


def frame_key(frame: IdFrame) -> BeaconKey:
    match frame:
        case IBeacon(uuid_bytes, major, minor, _):
            return "ibeacon", uuid_bytes + struct.pack(">HH", major, minor)
        case AltBeacon(_, id_bytes, _):
            return "altbeacon", id_bytes
        case EddystoneUid(_, namespace, instance):
            return "eddystone-uid", namespace + instance
        case EddystoneUrl(_, url):
            return "eddystone-url", url.encode()


def parse_beacon_id(text: str) -> BeaconKey:
    """``ibeacon:<uuid>:<major>:<minor>``, ``altbeacon:<uuid>:<id2>:<id3>``, ``eddystone-uid:<ns 20 hex>:<inst
    12 hex>`` or ``eddystone-url:<url>``; raises ValueError naming the expected shape."""
    kind, _, rest = text.partition(":")
    if kind in ("ibeacon", "altbeacon"):
        parts = rest.split(":")
        if len(parts) != 3:
            raise ValueError(f"{kind} id is {kind}:<uuid>:<major 0-65535>:<minor 0-65535>, got {text!r}")
        major, minor = int(parts[1]), int(parts[2])
        if not (0 <= major <= 0xFFFF and 0 <= minor <= 0xFFFF):
            raise ValueError(f"major and minor are 0-65535 in {text!r}")
        return kind, uuid.UUID(parts[0]).bytes + struct.pack(">HH", major, minor)
    if kind == "eddystone-uid":
        parts = rest.split(":")
        if len(parts) != 2 or len(parts[0]) != 20 or len(parts[1]) != 12:
            raise ValueError(f"eddystone-uid id is eddystone-uid:<namespace 20 hex>:<instance 12 hex>, got {text!r}")
        return kind, bytes.fromhex(parts[0]) + bytes.fromhex(parts[1])
    if kind == "eddystone-url":
        if not rest.startswith(URL_SCHEMES[2:]):
            raise ValueError(f"eddystone-url id is eddystone-url:<http(s) URL>, got {text!r}")
        return kind, rest.encode()
    raise ValueError(f"unknown beacon kind {kind!r}: ibeacon, altbeacon, eddystone-uid or eddystone-url")


def format_beacon_id(key: BeaconKey) -> str:
    kind, raw = key
    if kind in ("ibeacon", "altbeacon"):
        major, minor = struct.unpack(">HH", raw[16:])
        return f"{kind}:{uuid.UUID(bytes=raw[:16])}:{major}:{minor}"
    if kind == "eddystone-uid":
        return f"{kind}:{raw[:10].hex()}:{raw[10:].hex()}"
    return f"{kind}:{raw.decode()}"
