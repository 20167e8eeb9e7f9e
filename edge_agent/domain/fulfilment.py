"""How a line reaches the shopper: carried out now, shipped home, or picked up at a store (the endless aisle).

One vocabulary for the tote machine, the kiosk's basket and the platform. On the wire a line's fulfilment is a
short text, ``carry_out``, ``ship`` or ``pickup@{store}``; an endless-aisle order request is the LWW cart attribute
``aisle.{gtin14}`` holding that text, and the platform's answer is the attribute ``aisle.{gtin14}.answer``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Fulfilment(StrEnum):
    CARRY_OUT = "carry_out"
    PICKUP = "pickup"
    SHIP = "ship"


FULFILMENTS: Final = frozenset(m.value for m in Fulfilment)
STORE_ID_PATTERN: Final = r"[a-z0-9][a-z0-9._-]{0,63}"
"""A store id as the topics and the config spell it (``[device] store``)."""
FULFILMENT_PATTERN: Final = rf"^(carry_out|ship|pickup@{STORE_ID_PATTERN})$"
AISLE_PREFIX: Final = "aisle."
ANSWER_SUFFIX: Final = ".answer"
_FULFILMENT_RE: Final = re.compile(FULFILMENT_PATTERN)


@dataclass(frozen=True, slots=True)
class LineFulfilment:
    mode: Fulfilment
    store: str | None = None
    """For pickup: the store the shopper collects at."""

    @property
    def text(self) -> str:
        return f"{self.mode.value}@{self.store}" if self.mode is Fulfilment.PICKUP else self.mode.value

    @property
    def ordered(self) -> bool:
        """Shipped or picked up elsewhere: an order the platform accepts or refuses (not a unit in the hand)."""
        return self.mode is not Fulfilment.CARRY_OUT


def parse_fulfilment(text: str) -> LineFulfilment:
    """``ship`` / ``pickup@store-2`` / ``carry_out``; ValueError for anything else (pickup needs its store)."""
    if not _FULFILMENT_RE.fullmatch(text):
        raise ValueError(f"fulfilment {text!r} is not carry_out, ship or pickup@<store>")
    mode, _, store = text.partition("@")
    return LineFulfilment(Fulfilment(mode), store or None)


def request_key(gtin14: str) -> str:
    """The cart attribute that asks the platform to order this line for delivery or pickup."""
    return f"{AISLE_PREFIX}{gtin14}"


def answer_key(gtin14: str) -> str:
    """The cart attribute only the platform writes: its decision on the line's latest request."""
    return f"{AISLE_PREFIX}{gtin14}{ANSWER_SUFFIX}"


def requested_gtin(key: str) -> str | None:
    """The GTIN a request attribute names, or None for any other attribute (answers included)."""
    if not key.startswith(AISLE_PREFIX) or key.endswith(ANSWER_SUFFIX):
        return None
    gtin14 = key[len(AISLE_PREFIX) :]
    return gtin14 if len(gtin14) == 14 and gtin14.isdigit() else None
