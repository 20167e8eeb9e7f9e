"""Typed events readers hand to the loop. Readers know hardware; they know nothing of baskets or MQTT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge_agent.identifiers.product_key import ProductKey


@dataclass(frozen=True, slots=True)
class ProductScanned:
    """A product code read and resolved to its key (identifiers.product_key); symbology is the AIM id or ""."""

    key: ProductKey
    symbology: str
    reader: str
    at: float

    @property
    def gtin14(self) -> str:
        return self.key.gtin14


@dataclass(frozen=True, slots=True)
class IdentityPresented:
    """A shopper's deliberate act (loyalty tap, app QR): an unverified credential for the session to check."""

    token: str
    method: Literal["nfc", "qr"]
    reader: str
    at: float

    def __repr__(self) -> str:  # the token is a credential: keep it out of logs and tracebacks
        return f"IdentityPresented(method={self.method!r}, reader={self.reader!r})"


@dataclass(frozen=True, slots=True)
class InputRejected:
    """Something a reader saw but will not turn into an action; counted and logged with its reason."""

    reader: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class ReaderHealth:
    reader: str
    state: Literal["ok", "degraded", "stopped"]
    detail: str = ""


ReaderEvent = ProductScanned | IdentityPresented | InputRejected | ReaderHealth
