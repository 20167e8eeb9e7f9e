"""Typed events readers hand to the loop. Readers know hardware; they know nothing of baskets or MQTT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class ProductScanned:
    gtin14: str
    symbology: str
    reader: str
    at: float


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


ReaderEvent = ProductScanned | InputRejected | ReaderHealth
