"""Shelf lookups as workflow events: a product looked up at a shelf is GA4's ``view_item`` (retail note §1.5, §6);
a label the shopper or an associate reports as wrong, from the shelf's screen, is ``shelf.label.reported``."""

from __future__ import annotations

from typing import Final

from edge_agent.domain.workflows.common import SHOPPER, WorkflowEvent

EVENT_NAMES: Final = frozenset({"lookup.performed", "shelf.label.reported"})
REFUSAL_REASONS: Final = frozenset[str]()


def lookup_performed(gtin14: str, *, found: bool, offline: bool, now: float, actor: str = SHOPPER) -> WorkflowEvent:
    """Who looked (a shopper, or an associate by id), what, and whether the answer came from a stale cache."""
    return WorkflowEvent("lookup.performed", gtin14, actor, now, {"gtin14": gtin14, "found": found, "offline": offline})


def label_reported(
    gtin14: str,
    *,
    shown_price_minor: int | None,
    currency: str | None,
    price_as_of: str | None,
    offline: bool,
    now: float,
    actor: str = SHOPPER,
) -> WorkflowEvent:
    """The shelf label disagrees with the screen: which item, the price the screen showed and as of when (none
    when it showed "price confirmed at checkout"), and whether that answer came from a stale cache."""
    data: dict[str, object] = {
        "gtin14": gtin14,
        "shown_price_minor": shown_price_minor,
        "currency": currency,
        "price_as_of": price_as_of,
        "offline": offline,
    }
    return WorkflowEvent("shelf.label.reported", gtin14, actor, now, data)
