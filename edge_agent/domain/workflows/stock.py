"""Shelf stock signal per product (retail note §1.5): OK → LOW → OUT → REPLENISHED (→ OK), and price mismatches.

Counts come from RFID reads, scan deltas or an associate's report; a product's state follows them against a
configured low threshold, and an event goes out only when the state changes (``stock.low``, ``stock.out``,
``stock.replenished``). REPLENISHED turns into OK quietly at the next healthy count: it is there so a restock
is reported once, not so that every healthy count is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Final

from edge_agent.domain.workflows.common import SYSTEM, Outcome, WorkflowEvent, applied, is_gtin14, refuse
from edge_agent.domain.workflows.const import DEFAULT_STOCK_LOW_AT


class StockState(StrEnum):
    OK = "ok"
    LOW = "low"
    OUT = "out"
    REPLENISHED = "replenished"


COUNT_METHODS: Final = frozenset({"rfid", "scan", "associate", "platform"})
"""How a count was taken; "platform" is the inventory feed in the catalog updates (catalog cache)."""

EVENT_NAMES: Final = frozenset({"stock.low", "stock.out", "stock.replenished", "price.mismatch"})

REFUSAL_REASONS: Final = frozenset({"bad_count", "unknown_method", "bad_gtin", "bad_price", "prices_match"})


@dataclass(frozen=True, slots=True)
class StockSignal:
    gtin14: str
    low_at: int = DEFAULT_STOCK_LOW_AT
    """A count of 1..low_at is LOW; 0 is OUT."""
    state: StockState = StockState.OK
    count: int | None = None
    """The last count seen; ``None`` before the first."""

    def __post_init__(self) -> None:
        if not is_gtin14(self.gtin14):
            raise ValueError(f"{self.gtin14!r} is not a valid GTIN-14")
        if self.low_at < 0:
            raise ValueError("the low-stock threshold cannot be negative")

    def observe(self, count: int, *, method: str, now: float, actor: str = SYSTEM) -> Outcome[StockSignal]:
        """A new count for the shelf; an event only when the state changes."""
        if count < 0:
            return refuse(self, "bad_count", f"a shelf count cannot be negative, got {count}")
        if method not in COUNT_METHODS:
            return refuse(self, "unknown_method", f"count method {method!r} is not one of {sorted(COUNT_METHODS)}")
        if count == 0:
            to = StockState.OUT
        elif count <= self.low_at:
            to = StockState.LOW
        elif self.state in (StockState.LOW, StockState.OUT):
            to = StockState.REPLENISHED
        else:
            to = StockState.OK
        signal = replace(self, state=to, count=count)
        if to is self.state or to is StockState.OK:
            return applied(signal)
        data = {"gtin14": self.gtin14, "method": method, "count": count, "previous": self.state.value}
        return applied(signal, WorkflowEvent(f"stock.{to.value}", self.gtin14, actor, now, data))


def price_mismatch(
    gtin14: str, shelf_price: Decimal, system_price: Decimal, *, now: float, actor: str = SYSTEM
) -> Outcome[None]:
    """A shelf label that disagrees with the system price (a lookup or a tag scan found it)."""
    if not is_gtin14(gtin14):
        return refuse(None, "bad_gtin", f"{gtin14!r} is not a valid GTIN-14")
    for price in (shelf_price, system_price):
        if not price.is_finite() or price < 0:
            return refuse(None, "bad_price", f"{price} is not a price")
    if shelf_price == system_price:
        return refuse(None, "prices_match", f"shelf and system agree on {gtin14}: {shelf_price}")
    data = {"gtin14": gtin14, "shelf_price": str(shelf_price), "system_price": str(system_price)}
    return applied(None, WorkflowEvent("price.mismatch", gtin14, actor, now, data))
