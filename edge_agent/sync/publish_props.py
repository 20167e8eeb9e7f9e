"""MQTT 5 PUBLISH properties encoded once, by hand, instead of through paho's ``Properties``.

paho finds every property by scanning its table of names with ``str.replace`` on each (``getIdentFromName``),
on set and again on ``pack``: ~40 µs of a publish's CPU for the two user properties every message carries
(``ce_type``, ``ce_id``), three or four publishes a scan (docs/benchmarks.md). paho only ever calls ``pack()`` on
the object it is given, so :class:`PackedPublishProperties` hands it bytes built here, in paho's own order (by
property identifier), byte for byte what ``Properties.pack()`` gives (tests/unit/test_publish_props.py).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

MESSAGE_EXPIRY_INTERVAL = 0x02
CORRELATION_DATA = 0x09
USER_PROPERTY = 0x26
"""MQTT 5.0 §2.2.2.2 property identifiers; each is below 128, so its variable byte integer is one byte."""
MAX_FIELD_BYTES = 0xFFFF
"""A string or binary field's two-byte length prefix (MQTT 5.0 §1.5.4, §1.5.6)."""


def _vbi(n: int) -> bytes:
    """MQTT 5.0 §1.5.5 variable byte integer."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(data: bytes) -> bytes:
    if len(data) > MAX_FIELD_BYTES:
        raise ValueError(f"an MQTT string or binary field holds at most {MAX_FIELD_BYTES} bytes, got {len(data)}")
    return struct.pack("!H", len(data)) + data


def encode_publish_properties(
    user_properties: Sequence[tuple[str, str]] = (), expiry_s: int | None = None, correlation: bytes | None = None
) -> bytes:
    """The properties field of a PUBLISH: its length, then message expiry, correlation data, user properties."""
    body = b""
    if expiry_s:
        body += bytes([MESSAGE_EXPIRY_INTERVAL]) + struct.pack("!L", expiry_s)
    if correlation:
        body += bytes([CORRELATION_DATA]) + _field(correlation)
    for key, value in user_properties:
        body += bytes([USER_PROPERTY]) + _field(key.encode()) + _field(value.encode())
    return _vbi(len(body)) + body


class PackedPublishProperties(Properties):
    """What paho's ``publish(properties=...)`` takes, already packed. paho's ``__init__`` (two tables built per
    instance) and its validating ``__setattr__`` are skipped; only ``pack``, ``packetType`` and printing are used."""

    packed: bytes

    def __init__(self, packed: bytes) -> None:
        object.__setattr__(self, "packetType", PacketTypes.PUBLISH)
        object.__setattr__(self, "packed", packed)

    def pack(self) -> bytes:
        return self.packed

    def isEmpty(self) -> bool:  # paho's name
        return len(self.packed) <= 1

    def __str__(self) -> str:
        return f"[PUBLISH properties, {len(self.packed)} bytes packed]"

    __repr__ = __str__
