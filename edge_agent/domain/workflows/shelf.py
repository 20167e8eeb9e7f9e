"""Shelf lookups as workflow events: a product looked up at a shelf is GA4's ``view_item`` (retail note §1.5, §6)."""

from __future__ import annotations

from typing import Final

from edge_agent.domain.workflows.common import SHOPPER, WorkflowEvent

EVENT_NAMES: Final = frozenset({"lookup.performed"})
REFUSAL_REASONS: Final = frozenset[str]()


def lookup_performed(gtin14: str, *, found: bool, offline: bool, now: float, actor: str = SHOPPER) -> WorkflowEvent:
    """Who looked (a shopper, or an associate by id), what, and whether the answer came from a stale cache."""
    return WorkflowEvent("lookup.performed", gtin14, actor, now, {"gtin14": gtin14, "found": found, "offline": offline})
