"""Offers for a consented session and the shopper's consent changes, as workflow events (retail note §4, §6).

An :class:`OfferBook` is one session's offers: what the platform sent (a full state each time), what the shopper saw
(an impression, ``offer.viewed``: GA4 ``view_promotion``), accepted (``offer.accepted``: ``select_promotion``) or
dismissed (``offer.dismissed``). At most ``cap`` distinct offers are ever shown in a session (the frequency cap); a
dismissed offer never comes back; an expired one leaves the screen. Pure: the role feeds it and records what it says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from edge_agent.domain.workflows.common import SHOPPER, Refused, WorkflowEvent

EVENT_NAMES: Final = frozenset(
    {"offer.viewed", "offer.accepted", "offer.dismissed", "consent.granted", "consent.withdrawn"}
)
REFUSAL_REASONS: Final = frozenset({"not_shown", "already_accepted"})


@dataclass(frozen=True, slots=True)
class OfferItem:
    offer_id: str
    title: str
    detail: str
    gtin14: str | None
    expires_at: float


@dataclass(frozen=True, slots=True)
class Received:
    """What one message from the platform did: the offers newly shown, and how many were left out and why."""

    shown: tuple[OfferItem, ...]
    capped: int = 0
    expired: int = 0


@dataclass
class OfferBook:
    session_id: str
    cap: int
    current: dict[str, OfferItem] = field(default_factory=dict)
    """What the screen shows now, in the platform's order."""
    seen: set[str] = field(default_factory=set)
    """Every offer shown in this session (the frequency cap counts these)."""
    accepted: set[str] = field(default_factory=set)
    dismissed: set[str] = field(default_factory=set)

    def receive(self, offers: Sequence[OfferItem], now: float) -> Received:
        """The platform's current offers. An accepted offer stays shown even if the platform drops it (it is on
        the cart now); others it no longer lists leave the screen."""
        kept = {k: v for k, v in self.current.items() if k in self.accepted}
        shown: list[OfferItem] = []
        capped = expired = 0
        for offer in offers:
            if offer.offer_id in self.dismissed or offer.offer_id in kept:
                continue
            if offer.expires_at <= now:
                expired += 1
                continue
            if offer.offer_id not in self.seen:
                if len(self.seen) >= self.cap:
                    capped += 1
                    continue
                self.seen.add(offer.offer_id)
                shown.append(offer)
            kept[offer.offer_id] = offer
        self.current = kept
        return Received(tuple(shown), capped, expired)

    def expire(self, now: float) -> bool:
        """Offers past their expiry leave the screen (an accepted one stays: the platform decides at checkout)."""
        gone = [k for k, v in self.current.items() if v.expires_at <= now and k not in self.accepted]
        for k in gone:
            del self.current[k]
        return bool(gone)

    def accept(self, offer_id: str) -> OfferItem | Refused:
        offer = self.current.get(offer_id)
        if offer is None:
            return Refused("not_shown", f"offer {offer_id} is not on this screen")
        if offer_id in self.accepted:
            return Refused("already_accepted", f"offer {offer_id} is accepted already")
        self.accepted.add(offer_id)
        return offer

    def dismiss(self, offer_id: str) -> OfferItem | Refused:
        offer = self.current.get(offer_id)
        if offer is None:
            return Refused("not_shown", f"offer {offer_id} is not on this screen")
        if offer_id in self.accepted:
            return Refused("already_accepted", f"offer {offer_id} is on the cart; it cannot be dismissed")
        del self.current[offer_id]
        self.dismissed.add(offer_id)
        return offer

    def clear(self) -> None:
        """The scope was withdrawn: nothing is shown, and nothing the platform sends later is."""
        self.current.clear()


def offer_event(name: str, offer: OfferItem, session_id: str, now: float, actor: str = SHOPPER) -> WorkflowEvent:
    """``offer.viewed`` / ``offer.accepted`` / ``offer.dismissed``: GA4 promotion events carry the promotion id and
    the item, never a price or a value (the platform prices an offer at checkout)."""
    data: dict[str, object] = {"offer_id": offer.offer_id}
    if offer.gtin14 is not None:
        data["gtin14"] = offer.gtin14
    return WorkflowEvent(name, session_id, actor, now, data)


def consent_event(scope: str, grant: bool, session_id: str, now: float) -> WorkflowEvent:
    """``consent.granted`` / ``consent.withdrawn``: which scope, in which session (the pseudonym only with analytics,
    as on every event; the platform records the change from the profile cart's ``consent.<scope>`` op)."""
    return WorkflowEvent(
        "consent.granted" if grant else "consent.withdrawn", session_id, SHOPPER, now, {"scope": scope}
    )
